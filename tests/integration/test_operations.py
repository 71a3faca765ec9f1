"""What operators read of a running Hookline: /metrics (parsed with prometheus_client's own
parser), /healthz and /readyz (turning 503 when the database goes away or the worker loop
stalls), and the report behind `hookline status`."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from hookline.health import worker_status
from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.metrics import samples, value
from tests.support.polling import wait_until
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ApiServer]:
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path)
    runtime = await Runtime.start(settings)
    await runtime.service.ensure_admin_token()
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield server
    await server.stop()
    await runtime.stop()


async def scrape(api: ApiServer) -> str:
    response = await api.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return str(response.body)


async def test_metrics_count_a_delivered_publish_and_a_failing_attempt(
        served: ApiServer, receiver: Receiver) -> None:
    svc = served.runtime.service
    app = await svc.create_app("metrics")
    await svc.create_endpoint(app.id, url=receiver.url("/ok"))
    failing = await svc.create_endpoint(app.id, url=receiver.url("/down"),
                                        options=DeliveryOptions(retry_schedule=[60]))
    receiver.statuses["/down"] = [500]
    before = await scrape(served)

    await svc.publish(app.id, "order.created", {"id": 1})
    await receiver.wait_for(2)

    async def counted() -> str | None:
        # The gauges are read from the database before the counters render: wait for a
        # scrape that saw the retry scheduled too.
        text = await scrape(served)
        # Counters belong to the process: earlier tests' attempts count too.
        failed = value(text, "hookline_attempts_total", outcome="retrying",
                       error_kind="http_status") - value(
            before, "hookline_attempts_total", outcome="retrying", error_kind="http_status")
        delivered = value(text, "hookline_attempts_total", outcome="succeeded",
                          error_kind="none") - value(
            before, "hookline_attempts_total", outcome="succeeded", error_kind="none")
        scheduled = value(text, "hookline_queue_depth", state="scheduled")
        return text if (failed, delivered, scheduled) == (1, 1, 1) else None

    after = await wait_until(counted, what="both attempts counted, the retry scheduled")
    assert value(after, "hookline_messages_published_total") - \
        value(before, "hookline_messages_published_total") == 1
    assert value(after, "hookline_delivery_lag_seconds_count") - \
        value(before, "hookline_delivery_lag_seconds_count") == 2
    assert value(after, "hookline_attempt_duration_seconds_count") - \
        value(before, "hookline_attempt_duration_seconds_count") == 2
    assert value(after, "hookline_endpoints", state="enabled") == 2
    assert value(after, "hookline_worker_in_flight") == 0
    names = {name for name, _ in samples(after)}
    assert {"hookline_store_errors_total", "hookline_purged_rows_total"} <= names
    # No label names an endpoint or a message.
    assert failing.id not in after and "endpoint=" not in after and "app=" not in after


async def test_status_reports_a_known_queue_and_the_live_worker(
        served: ApiServer, receiver: Receiver) -> None:
    svc = served.runtime.service
    app = await svc.create_app("status")
    await svc.create_endpoint(app.id, url=receiver.url("/down"),
                              options=DeliveryOptions(retry_schedule=[3600]))
    paused = await svc.create_endpoint(app.id, url=receiver.url("/paused"))
    await svc.update_endpoint(app.id, paused.id, disabled=True)
    receiver.statuses["/down"] = [503]
    for n in range(3):
        await svc.publish(app.id, "order.created", {"n": n})
    await receiver.wait_for(3)

    async def settled() -> object:
        report = await svc.status_report()
        return report if report.queue["scheduled"] == 3 and report.workers else None

    report = await wait_until(settled, what="three retries scheduled and a heartbeat")
    assert report.queue == {"due": 0, "scheduled": 3, "leased": 0}
    assert report.endpoints == {"enabled": 1, "disabled": 1}
    [worker] = report.workers
    assert worker.name == served.runtime.worker.name  # type: ignore[union-attr]
    assert not worker.stalled and worker.in_flight == 0
    assert report.last_purge is None
    await svc.store.set_meta("purge.last", '{"at": 1700000000, "rows": 42}')
    assert (await svc.status_report()).last_purge == {"at": 1700000000, "rows": 42}


async def test_healthz_and_readyz_answer_while_all_is_well(served: ApiServer) -> None:
    assert (await served.get("/healthz")).status == 200
    ready = await served.get("/readyz")
    assert (ready.status, ready.body) == (200, {"status": "ok"})
    assert (await served.get("/api/v1/health")).status == 200


# -- readiness on a PostgreSQL database the test can break ---------------------------------
@pytest.fixture
async def own_database(postgres_url: str) -> AsyncIterator[tuple[str, str]]:
    """A PostgreSQL database of this test's own (dropped afterwards): (its URL, its name)."""
    name = "hl_ops_" + uuid.uuid4().hex[:10]
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_url.partition("?")
    yield base.rsplit("/", 1)[0] + "/" + name, name
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


STALL = 2.0


@pytest.fixture
async def served_on_postgres(own_database: tuple[str, str],
                             tmp_path: Path) -> AsyncIterator[ApiServer]:
    url, _ = own_database
    settings = make_settings(url, tmp_path, worker_stall_seconds=STALL, heartbeat_interval=0.2)
    runtime = await Runtime.start(settings)
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    # FastAPI builds its routing on the first request, holding the event loop (and so the
    # worker's loop) for a second or more: let that pass before judging readiness.
    await server.get("/healthz")

    async def ready() -> bool:
        return (await server.get("/readyz")).status == 200

    await wait_until(ready, what="readiness")
    yield server
    await server.stop()
    await runtime.stop()


async def test_readyz_turns_503_when_the_database_goes_away(
        served_on_postgres: ApiServer, own_database: tuple[str, str],
        postgres_url: str) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"DROP DATABASE {own_database[1]} WITH (FORCE)")
    finally:
        await admin.close()

    ready = await served_on_postgres.get("/readyz")
    assert ready.status == 503
    assert ready.body["problems"] == ["the database is unreachable"]
    assert (await served_on_postgres.get("/healthz")).status == 200  # the process lives


async def test_readyz_turns_503_when_the_worker_loop_stalls(
        served_on_postgres: ApiServer, own_database: tuple[str, str]) -> None:
    # Another session locks the queue: the worker's claim waits on it, its loop stops going
    # round, while the process, the database and the heartbeat all still answer.
    locker = await asyncpg.connect(own_database[0])
    try:
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")

        async def unready() -> object:
            response = await served_on_postgres.get("/readyz")
            return response if response.status == 503 else None

        stalled = await wait_until(unready, what="readyz to see the stall")
        assert stalled.body["problems"] == [
            "the delivery worker's loop has not run for 2 s"]
        beats = await served_on_postgres.runtime.service.store.live_workers(0.0)
        now = time.time()
        assert [worker_status(b, now, STALL).stalled for b in beats] == [True]
        await lock.rollback()
    finally:
        await locker.close()

    async def ready_again() -> bool:
        return (await served_on_postgres.get("/readyz")).status == 200

    await wait_until(ready_again, what="readyz to recover")


async def test_a_worker_whose_database_went_away_still_stops_when_told(
        own_database: tuple[str, str], postgres_url: str, receiver: Receiver,
        tmp_path: Path) -> None:
    """Results that cannot be stored are retried, but not past the shutdown: a worker told
    to stop gives up on them after its grace period (their leases expire, so the deliveries
    are sent again) instead of retrying for ever."""
    async def slow(_: Any) -> web.Response:
        await asyncio.sleep(1.0)  # answers after the database is gone
        return web.Response(text="ok")

    receiver.on("/slow", slow)
    url, name = own_database
    settings = make_settings(url, tmp_path, shutdown_grace=0.5)
    control = await Runtime.start(settings, with_worker=False)
    try:
        app = await control.service.create_app("gone")
        await control.service.create_endpoint(app.id, url=receiver.url("/slow"))
        for n in range(3):
            await control.service.publish(app.id, "a.b", {"n": n})
    finally:
        await control.stop()
    worker = WorkerProcess(settings, tmp_path, "worker")
    worker.wait_started()
    await receiver.wait_for(3, "/slow")
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()
    await asyncio.sleep(1.5)  # the answers came back; storing them fails

    told = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.to_thread(worker.wait, 20.0)
    finally:
        if worker.proc.poll() is None:
            worker.kill()

    assert time.monotonic() - told < 10
    assert code == 0
    assert "stopping without recording 3 attempts" in worker.output()
