"""A real webhook receiver on loopback that records every request it gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.polling import DEADLINE, wait_until

Behaviour = Callable[["Received"], Awaitable[web.StreamResponse] | web.StreamResponse]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class SlowAnswers:
    """A behaviour that answers 200 after `seconds` and notes the most requests it held at
    once (`peak`): what a concurrency cap is checked against."""

    seconds: float
    in_flight: int = 0
    peak: int = 0

    async def __call__(self, _: Received) -> web.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        return web.Response(text="ok")


@dataclass
class Receiver:
    """Answers 200 unless told otherwise per path: a list of statuses used in turn (the last
    one repeats), or a behaviour function."""

    host: str = "127.0.0.1"
    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def on(self, path: str, behaviour: Behaviour) -> None:
        self.behaviours[path] = behaviour

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(request.path, dict(request.headers), await request.read(),
                            time.time())
        self.requests.append(received)
        behaviour = self.behaviours.get(request.path)
        if behaviour is not None:
            result = behaviour(received)
            if asyncio.iscoroutine(result):
                return await result
            return result  # type: ignore[return-value]
        plan = self.statuses.get(request.path)
        status = 200
        if plan:
            status = plan.pop(0) if len(plan) > 1 else plan[0]
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    async def start(self) -> Receiver:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, path: str | None = None, timeout: float = DEADLINE
                       ) -> list[Received]:
        """Wait until `count` requests (at `path`) arrived; return them all."""

        def arrived() -> list[Received] | None:
            got = self.at(path) if path else self.requests
            return got if len(got) >= count else None

        result: list[Received] = await wait_until(
            arrived, timeout, f"{count} requests at {path or 'the receiver'}")
        return result
