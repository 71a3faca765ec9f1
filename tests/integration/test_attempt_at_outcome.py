"""An attempt is written once, with its outcome (migration 0028): while its request is out,
only its delivery holds its id; the next claim of a delivery whose attempt never got an outcome
stores that attempt as lost, and a late result still overwrites it. Both databases; the
process-level crash is in test_crash.py."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.config import Settings
from hookline.models import Attempt, DeliveryStatus
from hookline.runtime import Runtime
from hookline.store.core import Claim, DeliveryResult
from tests.support.migrations import without_migration

LEASE = 30.0


async def _rows(runtime: Runtime, sql: str, *args: Any) -> list[Any]:
    async with runtime.store.db.connection() as conn:  # type: ignore[attr-defined]
        return list(await conn.fetch(sql, *args))


async def _attempts(runtime: Runtime, delivery_id: str) -> list[Any]:
    return await _rows(runtime, "SELECT id, succeeded, sending, error_kind, attempt_number, "
                       "worker FROM attempts WHERE delivery_id = $1 ORDER BY id", delivery_id)


async def _attempt_id_held(runtime: Runtime, delivery_id: str) -> str | None:
    rows = await _rows(runtime, "SELECT attempt_id FROM deliveries WHERE id = $1", delivery_id)
    held: str | None = rows[0]["attempt_id"]
    return held


def _success(claim: Claim, at: float) -> DeliveryResult:
    attempt = Attempt(
        id=claim.attempt_id, delivery_id=claim.delivery_id, message_id=claim.message.id,
        endpoint_id=claim.endpoint.id, app_id=claim.message.app_id, url=claim.endpoint.url,
        created_at=at, succeeded=True, trigger=claim.trigger, status_code=200,
        attempt_number=claim.attempt_number, worker="w1")
    return DeliveryResult(attempt, claim.lease_id, DeliveryStatus.SUCCEEDED, None)


async def _one_delivery(runtime: Runtime) -> tuple[str, float]:
    svc = runtime.service
    app = await svc.create_app("once")
    await svc.create_endpoint(app.id, url="https://example.com/hook")
    await svc.publish(app.id, "a.b", {"x": 1})
    return app.id, svc.clock()


async def test_the_attempt_is_stored_once_with_its_outcome(settings: Settings) -> None:
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        _, now = await _one_delivery(runtime)
        [claim] = await runtime.store.claim_due_deliveries("w1", 10, now + 1, LEASE)
        # In flight: no attempt row yet; the delivery holds the attempt's id.
        assert await _attempts(runtime, claim.delivery_id) == []
        assert await _attempt_id_held(runtime, claim.delivery_id) == claim.attempt_id
        await runtime.store.record_results([_success(claim, now + 2)], lambda *_: None)
        [stored] = await _attempts(runtime, claim.delivery_id)
        assert (stored["id"], bool(stored["succeeded"]), bool(stored["sending"])) == (
            claim.attempt_id, True, False)
        assert await _attempt_id_held(runtime, claim.delivery_id) is None
        # A released claim leaves nothing behind either.
        _, now = await _one_delivery(runtime)
        [other] = await runtime.store.claim_due_deliveries("w1", 10, now + 1, LEASE)
        await runtime.store.release_deliveries([other], now + 1)
        assert await _attempts(runtime, other.delivery_id) == []
        assert await _attempt_id_held(runtime, other.delivery_id) is None
    finally:
        await runtime.stop()


async def test_a_lease_that_ran_out_is_stored_as_lost_and_a_late_result_overwrites_it(
        settings: Settings) -> None:
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        _, now = await _one_delivery(runtime)
        [first] = await runtime.store.claim_due_deliveries("w1", 10, now + 1, LEASE)
        later = now + 2 + LEASE
        [second] = await runtime.store.claim_due_deliveries("w2", 10, later, LEASE)
        assert second.delivery_id == first.delivery_id and second.attempt_number == 2
        [lost] = await _attempts(runtime, first.delivery_id)
        assert (lost["id"], lost["error_kind"], lost["worker"], lost["attempt_number"]) == (
            first.attempt_id, "worker_lost", "w1", 1)
        assert not lost["succeeded"] and not lost["sending"]
        # The first worker was only slow: its result replaces the lost attempt.
        await runtime.store.record_results([_success(first, later + 1)], lambda *_: None)
        [stored] = await _attempts(runtime, first.delivery_id)
        assert stored["id"] == first.attempt_id and stored["succeeded"]
        assert stored["error_kind"] is None
        rollups = await _rows(runtime, "SELECT SUM(succeeded) AS ok, SUM(failed) AS bad "
                              "FROM attempt_rollups")
        assert (int(rollups[0]["ok"]), int(rollups[0]["bad"])) == (1, 0)
    finally:
        await runtime.stop()


async def test_an_attempt_an_older_version_stored_as_sending_is_closed_as_lost(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with without_migration(monkeypatch, "0028"):
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            _, now = await _one_delivery(runtime)
            [delivery] = await _rows(runtime, "SELECT * FROM deliveries")
            # What a claim of the version before did: a lease, and its attempt as sending.
            async with runtime.store.db.transaction() as tx:  # type: ignore[attr-defined]
                await tx.execute(
                    "UPDATE deliveries SET lease_owner = 'old', lease_id = 'lease_old', "
                    "next_attempt_at = $2, attempt_count = 1 WHERE id = $1",
                    delivery["id"], now + 5)
                await tx.execute(
                    "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, "
                    "url, created_at, succeeded, sending, trigger, attempt_number, worker) "
                    "VALUES ('atmpt_old', $1, $2, $3, $4, 'u', $5, FALSE, TRUE, "
                    "'scheduled', 1, 'old')", delivery["id"], delivery["message_id"],
                    delivery["endpoint_id"], delivery["app_id"], now)
        finally:
            await runtime.stop()
    runtime = await Runtime.start(settings, with_worker=False)  # applies 0028
    try:
        assert await _attempt_id_held(runtime, delivery["id"]) == "atmpt_old"
        [claim] = await runtime.store.claim_due_deliveries("w1", 10, now + 10, LEASE)
        assert claim.attempt_number == 2
        [old] = await _attempts(runtime, delivery["id"])
        assert (old["id"], old["error_kind"], bool(old["sending"])) == (
            "atmpt_old", "worker_lost", False)
        assert await _attempt_id_held(runtime, delivery["id"]) == claim.attempt_id
    finally:
        await runtime.stop()
