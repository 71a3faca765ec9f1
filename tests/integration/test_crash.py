"""A worker process killed mid-delivery loses nothing; a stopped one hands its work back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hookline.config import Settings
from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from tests.support.api import make_settings
from tests.support.polling import attempts_recorded
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, lease_seconds=3.0, shutdown_grace=1.5)


async def test_worker_killed_while_receiver_holds_the_request_loses_nothing(
    settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path
) -> None:
    release = asyncio.Event()
    calls = 0

    async def hold_first(_: Any) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # the first worker dies while we hold its request
        return web.Response(text="ok")

    receiver.on("/hold", hold_first)
    svc = control.service
    app = await svc.create_app("crash")
    ep = await svc.create_endpoint(app.id, url=receiver.url("/hold"),
                                   options=DeliveryOptions(timeout=30))
    first = WorkerProcess(settings, tmp_path, "first")
    first.wait_started()
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    await receiver.wait_for(1, "/hold")
    killed_at = time.time()
    first.kill()

    second = WorkerProcess(settings, tmp_path, "second")
    try:
        second.wait_started()
        got = await receiver.wait_for(2, "/hold", timeout=20)
        assert got[1].headers["webhook-id"] == got[0].headers["webhook-id"] == msg.id
        # Redelivered only once the lease ran out: the killed worker's claim was honoured.
        assert got[1].at >= got[0].at + settings.lease_seconds * 0.9

        lost, delivered = await attempts_recorded(svc, app.id, 2, timeout=20, message_id=msg.id)
        # The attempts say so: the first worker's, whose id its lease held, stored as lost by
        # the worker that took the delivery over once the lease ran out.
        assert str(first.pid) in (lost.worker or "") and lost.error_kind == "worker_lost"
        assert not lost.succeeded and lost.created_at < killed_at
        assert str(second.pid) in (delivered.worker or "") and delivered.succeeded
        assert delivered.endpoint_id == ep.id and delivered.created_at > killed_at
        assert (lost.attempt_number, delivered.attempt_number) == (1, 2)
    finally:
        release.set()
        second.terminate()


async def test_sigterm_finishes_in_flight_requests_and_releases_the_rest(
    settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path
) -> None:
    stuck = asyncio.Event()

    async def slow(_: Any) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(text="ok")

    async def hang_once(received: Any) -> web.Response:
        if len(receiver.at("/stuck")) == 1:
            await stuck.wait()
        return web.Response(text="ok")

    receiver.on("/slow", slow)
    receiver.on("/stuck", hang_once)
    svc = control.service
    app = await svc.create_app("graceful")
    await svc.create_endpoint(app.id, url=receiver.url("/slow"))
    await svc.create_endpoint(app.id, url=receiver.url("/stuck"),
                              options=DeliveryOptions(timeout=30))
    worker = WorkerProcess(settings.with_(lease_seconds=60.0), tmp_path, "graceful")
    worker.wait_started()
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    await receiver.wait_for(1, "/slow")
    await receiver.wait_for(1, "/stuck")
    code = await asyncio.to_thread(worker.terminate)
    assert code == 0, worker.output()
    assert "released 1 unfinished deliveries" in worker.output()

    page = await svc.list_attempts(app.id, 10, None, message_id=msg.id)
    assert [a.url for a in page.data] == [receiver.url("/slow")]  # finished within grace

    # The released delivery is due at once: a new worker takes it long before its 60 s lease.
    other = WorkerProcess(settings.with_(lease_seconds=60.0), tmp_path, "other")
    try:
        await receiver.wait_for(2, "/stuck", timeout=10)
    finally:
        stuck.set()
        other.terminate()
