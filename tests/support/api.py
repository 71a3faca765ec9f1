"""The real HTTP API, served by uvicorn on a free loopback port inside the test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import uvicorn

from hookline.api import create_app
from hookline.api.serving import server_config
from hookline.config import Settings
from hookline.runtime import Runtime
from tests.support.net import free_port
from tests.support.polling import wait_until


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


class ApiServer:
    def __init__(self, runtime: Runtime, token: str) -> None:
        self.runtime = runtime
        self.token = token
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = create_app(runtime.settings, runtime=runtime)
        config = server_config(app, runtime.settings, host="127.0.0.1", port=self.port,
                               log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> ApiServer:
        task = self._task = asyncio.create_task(self.server.serve())

        def started() -> bool:
            if task.done():
                task.result()  # it stopped before it started: raise why
            return bool(self.server.started)

        await wait_until(started, what="the API to start")
        self.session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        self.server.should_exit = True
        if self._task is not None:
            await self._task

    async def request(self, method: str, path: str, json: Any = None, *,
                      token: str | None = None, headers: dict[str, str] | None = None,
                      data: bytes | None = None) -> Response:
        assert self.session is not None
        all_headers = {"authorization": f"Bearer {token or self.token}", **(headers or {})}
        if data is not None:
            all_headers.setdefault("content-type", "application/json")
        async with self.session.request(method, self.base_url + path, json=json, data=data,
                                        headers=all_headers) as resp:
            raw = await resp.read()
            content_type = resp.headers.get("content-type", "")
            body: Any = raw.decode(errors="replace")
            if "json" in content_type and raw:
                import json as _json

                body = _json.loads(raw)
            return Response(resp.status, body, dict(resp.headers))

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("PATCH", path, json, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)


def make_settings(database_url: str, data_dir: Any, **overrides: Any) -> Settings:
    """Settings for tests: loopback allowed explicitly, fast polling, fixed keys."""
    base: dict[str, Any] = dict(
        database_url=database_url, data_dir=data_dir, admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key", egress_allow=("127.0.0.0/8", "::1/128"),
        poll_interval=0.2, shutdown_grace=2.0)
    base.update(overrides)
    return Settings(**base)


ADMIN_TOKEN = "test-admin-token"
