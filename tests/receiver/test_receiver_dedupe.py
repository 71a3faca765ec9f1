"""At most once per event id: concurrent duplicates, failures, leases and retention, per store."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hookline.receiver import (
    ClaimResult,
    IdempotencyStore,
    IdempotentConsumer,
    MemoryStore,
    OnceStatus,
    RedisStore,
    SqliteStore,
)
from tests.support.polling import wait_until_blocking

DELIVERIES = 50
WAIT = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_every_store_meets_the_store_protocol(store: Any) -> None:
    assert isinstance(store, IdempotencyStore)


def test_fifty_concurrent_deliveries_of_one_event_run_the_handler_once(store: Any) -> None:
    consumer = IdempotentConsumer(store)
    start_together = threading.Barrier(DELIVERIES)
    skipped, lock = [], threading.Lock()
    all_others_answered = threading.Event()
    runs = []

    def handler() -> str:
        runs.append(threading.get_ident())
        # Hold the claim until every duplicate has been answered: they all race a live claim.
        assert all_others_answered.wait(WAIT), "duplicates did not all answer while running"
        return "handled"

    def deliver() -> OnceStatus:
        start_together.wait(WAIT)
        outcome = consumer.run_once("evt_concurrent", handler)
        if not outcome.ran:
            with lock:
                skipped.append(outcome.status)
                if len(skipped) == DELIVERIES - 1:
                    all_others_answered.set()
        return outcome.status

    with ThreadPoolExecutor(max_workers=DELIVERIES) as pool:
        statuses = list(pool.map(lambda _: deliver(), range(DELIVERIES)))

    assert len(runs) == 1
    assert Counter(statuses) == {OnceStatus.RAN: 1, OnceStatus.IN_PROGRESS: DELIVERIES - 1}


async def test_fifty_concurrent_async_deliveries_of_one_event_run_the_handler_once(
    store: Any,
) -> None:
    consumer = IdempotentConsumer(store)
    all_others_answered = asyncio.Event()
    skipped: list[OnceStatus] = []
    runs = []

    async def handler() -> str:
        runs.append(1)
        await asyncio.wait_for(all_others_answered.wait(), WAIT)
        return "handled"

    async def deliver() -> OnceStatus:
        outcome = await consumer.arun_once("evt_async", handler)
        if not outcome.ran:
            skipped.append(outcome.status)
            if len(skipped) == DELIVERIES - 1:
                all_others_answered.set()
        return outcome.status

    statuses = await asyncio.gather(*(deliver() for _ in range(DELIVERIES)))

    assert len(runs) == 1
    assert Counter(statuses) == {OnceStatus.RAN: 1, OnceStatus.IN_PROGRESS: DELIVERIES - 1}


def test_a_duplicate_after_the_handler_finished_is_a_duplicate_and_does_not_run(
    store: Any,
) -> None:
    consumer = IdempotentConsumer(store)
    first = consumer.run_once("evt_1", lambda: "first")

    second = consumer.run_once("evt_1", lambda: pytest.fail("ran twice"))

    assert (first.status, first.value) == (OnceStatus.RAN, "first")
    assert (second.status, second.value) == (OnceStatus.DUPLICATE, None)


def test_a_handler_that_raises_releases_the_id_so_the_next_delivery_runs_it(store: Any) -> None:
    consumer = IdempotentConsumer(store)

    def failing() -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        consumer.run_once("evt_retry", failing)
    retry = consumer.run_once("evt_retry", lambda: "handled on retry")

    assert (retry.status, retry.value) == (OnceStatus.RAN, "handled on retry")


async def test_an_async_handler_that_raises_releases_the_id_too(store: Any) -> None:
    consumer = IdempotentConsumer(store)

    async def failing() -> None:
        raise RuntimeError("boom")

    async def succeeding() -> str:
        return "ok"

    with pytest.raises(RuntimeError):
        await consumer.arun_once("evt_async_retry", failing)

    assert (await consumer.arun_once("evt_async_retry", succeeding)).value == "ok"


async def test_a_cancelled_async_handler_releases_the_id(store: Any) -> None:
    consumer = IdempotentConsumer(store)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(consumer.arun_once("evt_cancel", slow))
    await asyncio.wait_for(started.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def succeeding() -> str:
        return "ok"

    assert (await consumer.arun_once("evt_cancel", succeeding)).ran


def test_releasing_never_frees_an_id_that_is_done(store: Any) -> None:
    store.claim("evt_done", 60)
    store.complete("evt_done")

    store.release("evt_done")

    assert store.is_done("evt_done")
    assert not store.claim("evt_done", 60)


def test_different_event_ids_do_not_block_each_other(store: Any) -> None:
    consumer = IdempotentConsumer(store)

    assert consumer.run_once("evt_a", lambda: 1).ran
    assert consumer.run_once("evt_b", lambda: 2).ran


def test_consumers_with_different_namespaces_share_a_store_without_colliding(
    store: Any,
) -> None:
    emails = IdempotentConsumer(store, namespace="emails:")
    billing = IdempotentConsumer(store, namespace="billing:")

    assert emails.run_once("evt_1", lambda: "sent").ran
    assert billing.run_once("evt_1", lambda: "charged").ran
    assert emails.run_once("evt_1", lambda: "again").status is OnceStatus.DUPLICATE


def test_an_empty_event_id_is_refused() -> None:
    with pytest.raises(ValueError, match="event id"):
        IdempotentConsumer(MemoryStore()).run_once("", lambda: None)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_claim_whose_holder_died_expires_after_its_lease(kind: str, tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock) if kind == "memory" else SqliteStore(
        tmp_path / "d.db", clock=clock
    )
    consumer = IdempotentConsumer(store, lease=60)
    assert consumer.claim("evt_crash") is ClaimResult.CLAIMED  # and never completed nor released

    clock.now += 59
    still_held = consumer.run_once("evt_crash", lambda: "too early")
    clock.now += 2
    after_lease = consumer.run_once("evt_crash", lambda: "recovered")

    assert still_held.status is OnceStatus.IN_PROGRESS
    assert (after_lease.status, after_lease.value) == (OnceStatus.RAN, "recovered")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_done_id_is_forgotten_after_the_retention_period(kind: str, tmp_path: Path) -> None:
    clock = FakeClock()
    week = 7 * 24 * 3600
    store = MemoryStore(clock=clock) if kind == "memory" else SqliteStore(
        tmp_path / "d.db", clock=clock
    )
    consumer = IdempotentConsumer(store)
    consumer.run_once("evt_old", lambda: None)

    clock.now += week - 1
    within = consumer.run_once("evt_old", lambda: "again")
    clock.now += 2
    after = consumer.run_once("evt_old", lambda: "again")

    assert within.status is OnceStatus.DUPLICATE
    assert after.status is OnceStatus.RAN


def test_a_redis_claim_whose_holder_died_expires_after_its_lease(
    redis_store: RedisStore,
) -> None:
    consumer = IdempotentConsumer(redis_store, lease=0.2)
    assert consumer.claim("evt_crash") is ClaimResult.CLAIMED

    assert consumer.claim("evt_crash") is ClaimResult.IN_PROGRESS
    assert wait_until_blocking(lambda: consumer.claim("evt_crash") is ClaimResult.CLAIMED,
                               timeout=5, what="the lease to expire")


def test_a_redis_store_keeps_done_ids_for_its_retention(redis_store: RedisStore) -> None:
    consumer = IdempotentConsumer(redis_store)
    consumer.run_once("evt_ttl", lambda: None)

    ttl = redis_store.client.pttl(redis_store.prefix + "evt_ttl")

    assert 7 * 24 * 3600 * 1000 - 60_000 < ttl <= 7 * 24 * 3600 * 1000


def test_a_redis_store_can_be_opened_from_a_url(redis_client: Any) -> None:
    store = RedisStore("redis://127.0.0.1:6379/0", prefix=f"hookline-test:{uuid.uuid4().hex}:")
    try:
        assert IdempotentConsumer(store).run_once("evt", lambda: 1).ran
        assert IdempotentConsumer(store).run_once("evt", lambda: 2).status is OnceStatus.DUPLICATE
    finally:
        redis_client.delete(store.prefix + "evt")
        store.close()


def _deliver_in_another_process(
    path: str, start: Any, skipped: Any, all_others_answered: Any, runs: Any, processes: int
) -> None:
    consumer = IdempotentConsumer(SqliteStore(path))

    def handler() -> None:
        with runs.get_lock():
            runs.value += 1
        all_others_answered.wait(WAIT)

    start.wait(WAIT)
    if not consumer.run_once("evt_processes", handler).ran:
        with skipped.get_lock():
            skipped.value += 1
            if skipped.value == processes - 1:
                all_others_answered.set()


def test_a_sqlite_file_deduplicates_across_processes(tmp_path: Path) -> None:
    processes = 6
    context = multiprocessing.get_context("fork")
    start = context.Barrier(processes)
    skipped, runs = context.Value("i", 0), context.Value("i", 0)
    all_others_answered = context.Event()
    path = str(tmp_path / "shared.db")
    SqliteStore(path)  # create the schema once, as an app's start-up would
    workers = [
        context.Process(target=_deliver_in_another_process,
                        args=(path, start, skipped, all_others_answered, runs, processes))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT * 2)

    assert [worker.exitcode for worker in workers] == [0] * processes
    assert (runs.value, skipped.value) == (1, processes - 1)
