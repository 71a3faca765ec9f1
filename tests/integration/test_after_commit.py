"""What waits for a commit runs after it, on both databases: a background job started inside
an idempotent request's transaction sees its own task row, and a wake-up is not sent for
rows other processes cannot read yet.

PostgreSQL showed why: a usage-statistics task started under an SDK's idempotency key ran
on another pooled connection before the request committed, so its `finished` update found
no row and the task read `running` for ever (about one run in ten)."""

from __future__ import annotations

import asyncio

import pytest

from hookline.models import TaskStatus
from hookline.runtime import Runtime
from hookline.service.tasks import TaskProgress


async def test_callbacks_wait_for_the_outermost_commit_and_a_rollback_drops_them(
        runtime: Runtime) -> None:
    store = runtime.store
    ran: list[str] = []

    store.after_commit(lambda: ran.append("no transaction"))
    assert ran == ["no transaction"]

    async with store.db.transaction():
        store.after_commit(lambda: ran.append("outer"))
        async with store.db.transaction():  # a savepoint: its commit is not the one
            store.after_commit(lambda: ran.append("nested"))
        assert ran == ["no transaction"]
    assert ran == ["no transaction", "outer", "nested"]

    class Refused(Exception):
        pass

    try:
        async with store.db.transaction():
            store.after_commit(lambda: ran.append("rolled back"))
            raise Refused
    except Refused:
        pass
    assert "rolled back" not in ran


async def test_a_failing_callback_is_logged_and_neither_undoes_nor_stops_the_rest(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    store = runtime.store
    ran: list[str] = []

    def fails() -> None:
        raise RuntimeError("boom")

    async with store.db.transaction():
        task = await runtime.service.start_task("application.stats", _answer)
        store.after_commit(fails)
        store.after_commit(lambda: ran.append("after"))

    assert ran == ["after"]
    assert "a step waiting for a commit failed" in caplog.text
    assert (await runtime.service.wait_for_task(task.id)).status == TaskStatus.FINISHED


async def _answer(progress: TaskProgress) -> dict[str, int]:
    return {"answer": 42}


async def test_a_task_started_inside_a_transaction_finishes_once_it_commits(
        runtime: Runtime) -> None:
    service = runtime.service

    async def job(progress: TaskProgress) -> dict[str, int]:
        return {"answer": 42}

    async with runtime.store.db.transaction():
        task = await service.start_task("application.stats", job)
        # Time for a job started at once to run and write its result, before the commit.
        await asyncio.sleep(0.2)
    finished = await service.wait_for_task(task.id)

    assert finished.status == TaskStatus.FINISHED
    assert finished.data == {"answer": 42}


# SQLite's workers poll: there is no wake-up to send.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_publish_inside_a_transaction_wakes_other_workers_after_it_commits(
        runtime: Runtime) -> None:
    service = runtime.service
    app = await service.create_app("Waking")
    await service.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
    woken: list[float] = []
    loop = asyncio.get_running_loop()
    stop = await runtime.store.listen(lambda: woken.append(loop.time()))
    try:
        await asyncio.sleep(0.1)
        woken.clear()  # only the publish's
        async with runtime.store.db.transaction():
            await service.publish(app.id, "a.b", {})
            await asyncio.sleep(0.2)  # a NOTIFY sent meanwhile would arrive meanwhile
            committing = loop.time()
        deadline = loop.time() + 5
        while not woken and loop.time() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await stop()
    assert woken, "no wake-up arrived"
    assert woken[0] >= committing
