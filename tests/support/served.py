"""`hookline serve` as a real child process on a free loopback port, driven over HTTP."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from hookline.config import Settings
from tests.support.net import free_port
from tests.support.processes import HOOKLINE, hookline_env


class ServeProcess:
    """One `hookline serve` (with its worker unless `worker=False`) over `settings`' database.

    Its output goes to a log file, never a pipe: a pipe nobody reads would stall a busy server.
    """

    def __init__(self, settings: Settings, log_dir: Path, name: str, *, worker: bool = True,
                 **overrides: str) -> None:
        """`overrides`: more settings by name, as `hookline_env` takes them."""
        self.settings = settings
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._env = hookline_env(settings, port=str(self.port), **overrides)
        self._args = ["serve"] + ([] if worker else ["--no-worker"])
        self.process: asyncio.subprocess.Process | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self, timeout: float = 30.0) -> ServeProcess:
        with open(self.log_path, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(HOOKLINE), *self._args, env=self._env, stdout=log, stderr=log)
        self.session = aiohttp.ClientSession(
            self.base_url, headers={"authorization": f"Bearer {self.settings.admin_token}"})
        deadline = time.monotonic() + timeout
        while not await self._healthy():
            if self.process.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                raise AssertionError(f"hookline serve did not start:\n{self.output()}")
            await asyncio.sleep(0.05)
        return self

    async def _healthy(self) -> bool:
        assert self.session is not None
        try:
            async with self.session.get("/api/v1/health") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def call(self, method: str, path: str, json: Any = None, *,
                   token: str | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body or None) of one API request."""
        assert self.session is not None
        headers = {"authorization": f"Bearer {token}"} if token else None
        async with self.session.request(method, "/api/v1" + path, json=json,
                                        headers=headers) as response:
            body = await response.json(content_type=None) if await response.read() else None
            return response.status, body

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._close_session()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within 10 s."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._close_session()

    async def _close_session(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
