"""A receiver answering with hundreds of megabytes must not grow a worker's memory: only a
few KiB of any response is ever read. Measured on a real `hookline worker` process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from tests.hardening.support import site_port
from tests.support.api import make_settings
from tests.support.polling import attempts_recorded
from tests.support.processes import HooklineProcess, hookline_env

HUGE = 300 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
MAX_GROWTH_KIB = 50 * 1024


class FloodingReceiver:
    """Answers `/flood` with HUGE bytes of generated body, counting what it got to send."""

    def __init__(self) -> None:
        self.sent = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _flood(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse()
        response.content_length = HUGE
        await response.prepare(request)
        while self.sent < HUGE:
            await response.write(CHUNK)
            self.sent += len(CHUNK)
        return response

    async def _small(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start(self) -> FloodingReceiver:
        app = web.Application()
        app.router.add_post("/flood", self._flood)
        app.router.add_post("/small", self._small)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site_port(site)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def flood() -> AsyncIterator[FloodingReceiver]:
    receiver = await FloodingReceiver().start()
    yield receiver
    await receiver.stop()


async def test_worker_memory_stays_flat_while_a_receiver_sends_300_mb(
    tmp_path: Path, flood: FloodingReceiver,
) -> None:
    database_url = f"sqlite:///{tmp_path}/hookline.db"
    settings = make_settings(database_url, tmp_path)
    publisher = await Runtime.start(settings, with_worker=False)
    worker = HooklineProcess("worker", env=hookline_env(
        database_url=database_url, data_dir=str(tmp_path), secret_key=settings.secret_key or "",
        egress_allow="127.0.0.0/8", poll_interval="0.05", log_level="warning"))
    try:
        service = publisher.service
        app = await service.create_app("flood")
        base = f"http://127.0.0.1:{flood.port}"
        await service.create_endpoint(app.id, url=f"{base}/small", filter_types=["warm.up"])
        await service.create_endpoint(app.id, url=f"{base}/flood", filter_types=["flood"],
                                      options=DeliveryOptions(retry_schedule=[], timeout=20))
        await worker.start()
        await worker.wait_for_output("delivering from")
        warm_up = (await service.publish(app.id, "warm.up", {"n": 1})).message
        await attempts_recorded(publisher.service, app.id, 1, message_id=warm_up.id)
        before = worker.memory_kib("VmRSS")

        message = (await service.publish(app.id, "flood", {"n": 2})).message
        [attempt] = await attempts_recorded(publisher.service, app.id, 1, timeout=30,
                                            message_id=message.id)
        peak = worker.memory_kib("VmHWM")
    finally:
        await worker.stop()
        await publisher.stop()
        await asyncio.sleep(0)

    assert attempt.succeeded and len(attempt.response_body) == 4096
    assert peak - before < MAX_GROWTH_KIB, f"worker grew from {before} KiB to {peak} KiB"
    assert flood.sent < HUGE // 10, f"the worker let the receiver send {flood.sent} bytes"
