"""`Database.in_transaction`, on both databases: a body's statements commit together or not
at all, a body run inside an open transaction is a savepoint of it, and on SQLite the whole
body is one hand-off to the database thread (the worker's claims and results take it, so
the write lock is held for the body's own time, not for a turn of the event loop per
statement)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hookline.models import Attempt, DeliveryStatus
from hookline.runtime import Runtime
from hookline.store.core import Connection, DeliveryResult


class Refused(Exception):
    pass


async def _meta(runtime: Runtime, key: str) -> str | None:
    return await runtime.store.get_meta(key)


async def test_a_body_commits_as_one_and_a_failing_body_leaves_nothing(
        runtime: Runtime) -> None:
    store = runtime.store

    async def writes_two(tx: Connection) -> str:
        await tx.execute(store.q.set_meta, "test.first", "1")
        await tx.execute(store.q.set_meta, "test.second", "2")
        row = await tx.fetchrow(store.q.get_meta, "test.first")
        return str(row["value"])

    assert await store.db.in_transaction(writes_two) == "1"
    assert (await _meta(runtime, "test.first"), await _meta(runtime, "test.second")) == (
        "1", "2")

    async def fails_after_a_write(tx: Connection) -> None:
        await tx.execute(store.q.set_meta, "test.third", "3")
        raise Refused

    with pytest.raises(Refused):
        await store.db.in_transaction(fails_after_a_write)
    assert await _meta(runtime, "test.third") is None

    # The database is usable afterwards: the failed body's transaction was rolled back.
    await store.set_meta("test.fourth", "4")
    assert await _meta(runtime, "test.fourth") == "4"


async def test_inside_an_open_transaction_a_body_is_part_of_it(runtime: Runtime) -> None:
    store = runtime.store

    async def writes(tx: Connection) -> None:
        await tx.execute(store.q.set_meta, "test.nested", "1")

    with pytest.raises(Refused):
        async with store.db.transaction():
            await store.db.in_transaction(writes)
            raise Refused
    assert await _meta(runtime, "test.nested") is None

    async with store.db.transaction():
        await store.db.in_transaction(writes)
    assert await _meta(runtime, "test.nested") == "1"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_a_body_that_awaits_anything_else_is_refused_and_undone(
        runtime: Runtime) -> None:
    store = runtime.store

    async def sleeps(tx: Connection) -> None:
        await tx.execute(store.q.set_meta, "test.slept", "1")
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something other than its connection"):
        await store.db.in_transaction(sleeps)
    assert await _meta(runtime, "test.slept") is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_a_claim_and_its_results_are_one_hand_off_each(
        control: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    svc, store = control.service, control.store
    app = await svc.create_app("hand-offs")
    for path in ("a", "b"):
        await svc.create_endpoint(app.id, url=f"http://127.0.0.1:9/{path}")
    for n in range(3):
        await svc.publish(app.id, "a.b", {"n": n})

    db = store.db
    hand_offs: list[object] = []
    run = db.run  # type: ignore[attr-defined]

    async def counted(work: Any) -> Any:
        hand_offs.append(work)
        return await run(work)

    monkeypatch.setattr(db, "run", counted)
    now = svc.clock() + 1
    claims = await store.claim_due_deliveries("w", 10, now, 30.0)
    assert len(claims) == 6
    assert len(hand_offs) == 1

    hand_offs.clear()
    results = [DeliveryResult(Attempt(
        id=c.attempt_id, delivery_id=c.delivery_id, message_id=c.message.id,
        endpoint_id=c.endpoint.id, app_id=app.id, url=c.endpoint.url, created_at=now,
        succeeded=True, trigger=c.trigger, status_code=200, attempt_number=c.attempt_number,
        worker="w"), c.lease_id, DeliveryStatus.SUCCEEDED, None) for c in claims]
    assert await store.record_results(results, lambda *_: None) == []
    assert len(hand_offs) == 1
    assert await store.delivery_counts() == {"succeeded": 6}
