"""Chaos: deliver 5,000 messages while workers are SIGKILLed (and PostgreSQL restarts).

Afterwards every delivery reached the receiver at least once, every request the receiver saw
is a recorded attempt, duplicates are counted and reported, and while PostgreSQL was away the
API answered 503 problem+json and recovered by itself.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.config import Settings
from hookline.errors import StoreUnavailable
from hookline.runtime import Runtime
from tests.conftest import fresh_postgres_schema
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.polling import wait_until, wait_while_progressing
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver

# It restarts the shared PostgreSQL: run alone (`make test` runs it after the parallel part).
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]
MESSAGES = 5000
ENDPOINTS = 3
KILLS = 4
# Longer than a request may take (its 10 s timeout is cut at 80 % of the lease), so a lease
# runs out only when its worker died, not because a loaded machine answered slowly; a killed
# worker's deliveries are sent again once it has.
LEASE = 15.0
# The run is slow on a loaded 2-core machine; it fails only when it stops moving this long
# (longer than a lease, so a killed worker's deliveries can come due again).
STALL = 2 * LEASE + 30
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def postgres(action: str) -> None:
    version = subprocess.check_output(["ls", "/etc/postgresql"], text=True).split()[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action,
                    *(["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


@pytest.fixture(params=["sqlite", "postgres"])
def chaos_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/hookline.db"
        yield make_settings(url, tmp_path, lease_seconds=LEASE)
    else:
        for url in fresh_postgres_schema(request.getfixturevalue("postgres_url")):
            yield make_settings(url, tmp_path, lease_seconds=LEASE)


@pytest.fixture
async def control(chaos_settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(chaos_settings, with_worker=False)
    await rt.service.ensure_admin_token()
    yield rt
    await rt.stop()


async def publish_all(rt: Runtime, app_id: str) -> None:
    """Publish like a careful API client: retry on 503, with an idempotency key so a retry
    after an ambiguous failure never creates a second message."""
    numbers = iter(range(MESSAGES))

    async def publisher() -> None:
        for n in numbers:
            while True:
                try:
                    await rt.service.publish(app_id, "chaos.event", {"n": n},
                                             idempotency_key=f"chaos-{n}")
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)

    await asyncio.gather(*(publisher() for _ in range(8)))


async def probe_api_during_outage(api: ApiServer, app_id: str) -> list[tuple[int, Any]]:
    """Stop PostgreSQL, collect what the API answers while it is away, start it again, and
    wait until the API answers 200 by itself."""
    answers: list[tuple[int, Any]] = []

    async def answered(status: int) -> bool:
        response = await api.get(f"/api/v1/app/{app_id}/msg?limit=1")
        answers.append((response.status, response.body))
        return response.status == status and len(answers) > 3

    await asyncio.to_thread(postgres, "stop")
    try:
        await wait_until(lambda: answered(503), 15, "the API to answer 503")
    finally:
        await asyncio.to_thread(postgres, "start")
    await wait_until(lambda: answered(200), 30, "the API to recover by itself")
    return answers


async def test_nothing_is_lost_when_workers_die_and_the_database_restarts(
    chaos_settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path
) -> None:
    is_postgres = chaos_settings.database_url.startswith("postgres")
    svc = control.service
    app = await svc.create_app("chaos")
    for k in range(ENDPOINTS):
        await svc.create_endpoint(app.id, url=receiver.url(f"/ep{k}"))
    api = await ApiServer(control, ADMIN_TOKEN).start()
    workers = [WorkerProcess(chaos_settings, tmp_path, f"w{i}") for i in range(2)]
    names = itertools.count(2)
    answers: list[tuple[int, Any]] = []
    try:
        for w in workers:
            await asyncio.to_thread(w.wait_started)
        publishing = asyncio.create_task(publish_all(control, app.id))
        for kill in range(KILLS):
            await wait_while_progressing(lambda: len(receiver.requests), (kill + 1) * 1500,
                                         STALL, "requests before a kill")
            victim = workers[kill % 2]
            await asyncio.to_thread(victim.kill)
            if is_postgres and kill == 1:
                answers = await probe_api_during_outage(api, app.id)
            workers[kill % 2] = WorkerProcess(chaos_settings, tmp_path, f"w{next(names)}")
        await publishing
        expected = MESSAGES * ENDPOINTS

        async def succeeded_deliveries() -> int:
            return (await control.store.delivery_counts()).get("succeeded", 0)
        await wait_while_progressing(succeeded_deliveries, expected, STALL,
                                     "deliveries succeeded")
    finally:
        for w in workers:
            await asyncio.to_thread(w.terminate)
        await api.stop()

    seen = Counter((r.headers["webhook-id"], r.path) for r in receiver.requests)
    unique = len(seen)
    duplicates = len(receiver.requests) - unique
    assert unique == expected  # every delivery reached its receiver at least once
    attempts = await all_attempts(control, app.id)
    succeeded = [a for a in attempts if a.succeeded]
    lost = [a for a in attempts if a.error_kind == "worker_lost"]
    failed = len(attempts) - len(succeeded) - len(lost)
    assert not [a for a in attempts if a.sending]
    assert len({a.delivery_id for a in succeeded}) == expected
    # Every request the receiver saw is a recorded attempt of its delivery: delivered, failed
    # (the receiver got it but the answer came too late), or lost with a killed worker.
    recorded = Counter((a.message_id, a.url.rsplit("/", 1)[1]) for a in attempts)
    unrecorded = {key: n for key, n in seen.items()
                  if n > recorded[(key[0], key[1].lstrip("/"))]}
    assert not unrecorded, f"requests without a recorded attempt: {unrecorded}"
    report = (f"chaos on {'PostgreSQL' if is_postgres else 'SQLite'}: {expected} deliveries, "
              f"{KILLS} worker SIGKILLs{', 1 PostgreSQL restart' if is_postgres else ''}; "
              f"receiver saw {len(receiver.requests)} requests ({duplicates} duplicates), "
              f"{len(succeeded)} successful, {failed} failed and {len(lost)} lost attempts "
              "recorded, 0 lost "
              "deliveries")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"chaos-{'postgres' if is_postgres else 'sqlite'}.txt").write_text(report + "\n")
    print("\n" + report)

    if is_postgres:
        statuses = [status for status, _ in answers]
        assert 503 in statuses and statuses[-1] == 200, statuses
        assert 500 not in statuses
        for status, body in answers:
            if status == 503:
                assert body["status"] == 503 and "unreachable" in body["detail"]
                assert "Traceback" not in str(body)


async def all_attempts(rt: Runtime, app_id: str) -> list[Any]:
    found: list[Any] = []
    iterator = None
    while True:
        page = await rt.service.list_attempts(app_id, 250, iterator)
        found.extend(page.data)
        if page.done:
            return found
        iterator = page.iterator
