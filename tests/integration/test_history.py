"""History at scale: rollups agree with a full count, retention's two clocks, the migration
that converts a populated database. Both databases (docs/retention.md)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hookline import metrics
from hookline.config import Settings
from hookline.health import LAST_PURGE_KEY, parse_last_purge
from hookline.models import DeliveryOptions
from hookline.retention import DAY, Purger
from hookline.runtime import Runtime
from hookline.store.base import PurgeCounts
from tests.support.clock import FakeClock, start_runtime_on
from tests.support.metrics import samples
from tests.support.migrations import without_migration
from tests.support.polling import attempts_recorded, deliveries_settled, wait_until
from tests.support.receiver import Receiver

HOUR = 3600.0


def metrics_sample(name: str) -> float:
    """The value of one unlabelled sample of this process's metrics."""
    body, _ = metrics.render()
    found = samples(body.decode())
    if (name, frozenset()) not in found:
        raise AssertionError(f"no sample {name}")
    return found[(name, frozenset())]


async def _rows(runtime: Runtime, sql: str, *args: Any) -> list[Any]:
    async with runtime.store.db.connection() as conn:  # type: ignore[attr-defined]
        return list(await conn.fetch(sql, *args))


async def _full_counts(runtime: Runtime) -> tuple[Counter[tuple[str, int, bool]],
                                                  Counter[tuple[str, int, bool]]]:
    """Attempts and finished deliveries counted the slow way: every row."""
    attempts: Counter[tuple[str, int, bool]] = Counter()
    for r in await _rows(runtime, "SELECT endpoint_id, created_at, succeeded, sending, trigger "
                                  "FROM attempts"):
        if not r["sending"] and r["trigger"] != "test":
            attempts[(r["endpoint_id"], int(r["created_at"] // HOUR), bool(r["succeeded"]))] += 1
    deliveries: Counter[tuple[str, int, bool]] = Counter()
    for r in await _rows(runtime, "SELECT endpoint_id, created_at, status FROM deliveries"):
        if r["status"] in ("succeeded", "failed"):
            deliveries[(r["endpoint_id"], int(r["created_at"] // HOUR),
                        r["status"] == "succeeded")] += 1
    return attempts, deliveries


async def _rollups(runtime: Runtime, table: str) -> Counter[tuple[str, int, bool]]:
    counts: Counter[tuple[str, int, bool]] = Counter()
    for r in await _rows(runtime, f"SELECT endpoint_id, hour, succeeded, failed FROM {table}"):
        counts[(r["endpoint_id"], int(r["hour"]), True)] += int(r["succeeded"])
        counts[(r["endpoint_id"], int(r["hour"]), False)] += int(r["failed"])
    return +counts  # zero entries dropped


async def test_rollups_agree_with_a_full_count_after_a_mixed_run(
        settings: Settings, receiver: Receiver) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    try:
        svc = runtime.service
        app = await svc.create_app("mixed")
        receiver.statuses["/flaky"] = [500, 200]  # its first request fails, then it recovers
        receiver.statuses["/down"] = [500]
        retry = DeliveryOptions(retry_schedule=[60])
        ok = await svc.create_endpoint(app.id, url=receiver.url("/ok"), options=retry)
        flaky = await svc.create_endpoint(app.id, url=receiver.url("/flaky"), options=retry)
        down = await svc.create_endpoint(app.id, url=receiver.url("/down"), options=retry)
        messages = [(await svc.publish(app.id, "a.b", {"n": n})).message for n in range(4)]
        await attempts_recorded(svc, app.id, 12)  # before a lease could lapse
        clock.advance(2 * HOUR)  # the retries land in another hour
        await deliveries_settled(runtime)
        # A test send never counts; a resend takes a success back out and counts it again.
        await svc.send_example(app.id, down.id, "a.b", {"test": True})
        await svc.resend(app.id, messages[0].id, ok.id)
        await receiver.wait_for(12 + 4 + 2 + 1)
        await deliveries_settled(runtime)

        attempts, deliveries = await _full_counts(runtime)
        assert await _rollups(runtime, "attempt_rollups") == +attempts
        assert await _rollups(runtime, "delivery_rollups") == +deliveries
        # ok: 5 successes (one resent); flaky: one failure, retried; down: 8 failures.
        assert sum(n for (ep, _, good), n in attempts.items() if ep == ok.id and good) == 5
        assert sum(n for (ep, _, good), n in attempts.items() if ep == down.id) == 8
        # The statistics read the rollups, and say the same.
        stats = await svc.endpoint_stats(app.id, flaky.id)
        assert (stats.last_24h.succeeded, stats.last_24h.failed) == (4, 1)
        assert stats.deliveries == {"success": 4, "fail": 0, "pending": 0, "sending": 0}
        stats = await svc.endpoint_stats(app.id, down.id)
        assert (stats.last_7d.succeeded, stats.last_7d.failed) == (0, 8)
        assert stats.deliveries["fail"] == 4
        hours = await svc.endpoint_hourly(app.id, flaky.id, hours=3)
        assert [(b.succeeded, b.failed) for b in hours] == [(3, 1), (0, 0), (1, 0)]
    finally:
        await runtime.stop()


async def test_retention_purges_exactly_what_is_past_both_clocks(
        settings: Settings, receiver: Receiver) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings.with_(purge_interval=3600.0))
    try:
        svc = runtime.service
        app = await svc.create_app("ageing")
        await svc.create_endpoint(app.id, url=receiver.url("/ok"), filter_types=["a.b"])

        async def publish(label: str, life: float | None = None) -> str:
            msg = (await svc.publish(app.id, "a.b", {"label": label},
                                     payload_life=life)).message
            return msg.id

        old = await publish("old")  # 100 days: deleted
        # In flight: a delivery failing since 100 days ago, retried once 60 days later (its
        # endpoint's failure rule then disables it) and still pending, keeps its message and
        # its attempts' content.
        receiver.statuses["/retrying"] = [500]
        await svc.create_endpoint(app.id, url=receiver.url("/retrying"), filter_types=["a.r"],
                                  options=DeliveryOptions(retry_schedule=[7 * DAY] * 10))
        retrying = (await svc.publish(app.id, "a.r", {"label": "retrying"})).message.id
        await receiver.wait_for(2)
        await _settled_or_waiting(runtime)  # recorded before its lease could lapse
        clock.advance(60 * DAY)
        middle = await publish("middle")  # 40 days: content erased, record kept
        await receiver.wait_for(4)  # and the retry the clock made due
        await _settled_or_waiting(runtime)
        clock.advance(30 * DAY)
        recent = await publish("recent")  # 10 days: untouched
        short = await publish("short", life=3 * DAY)  # its own clock: erased
        await receiver.wait_for(6)
        await _settled_or_waiting(runtime)
        clock.advance(10 * DAY)
        fresh_short = await publish("fresh-short", life=3 * DAY)  # not yet
        await receiver.wait_for(7)
        await _settled_or_waiting(runtime)
        # In flight: an old message whose delivery still waits (its endpoint is disabled)
        # keeps everything.
        parked = await svc.create_endpoint(app.id, url=receiver.url("/parked"), disabled=True)
        pending = await _park_one(runtime, app.id, parked.id, at=clock.now() - 100 * DAY)

        purged_before = metrics_sample("hookline_purged_rows_total")
        counts = await _purge(Purger(runtime.store, runtime.settings, clock))
        # What `hookline status` and /metrics show of it.
        last = parse_last_purge(await runtime.store.get_meta(LAST_PURGE_KEY))
        assert last == {"at": clock.now(), "rows": counts.total}
        assert metrics_sample("hookline_purged_rows_total") == purged_before + counts.total
        with pytest.raises(Exception, match="not found"):
            await svc.get_message(app.id, old)
        assert not await _rows(runtime, "SELECT id FROM attempts WHERE message_id = $1", old)
        assert not await _rows(runtime, "SELECT id FROM deliveries WHERE message_id = $1", old)
        for erased in (middle, short):
            msg = await svc.get_message(app.id, erased)
            assert msg.expunged and msg.payload == {}
            [attempt] = (await svc.list_attempts(app.id, 10, None, message_id=erased)).data
            assert attempt.expunged and attempt.response_body == ""
            assert attempt.request_headers == {}
        for kept in (recent, fresh_short, pending, retrying):
            msg = await svc.get_message(app.id, kept)
            assert not msg.expunged and msg.payload["label"], kept
        retried = (await svc.list_attempts(app.id, 10, None, message_id=retrying)).data
        assert [(a.expunged, a.status_code) for a in retried] == [(False, 500)] * 2
        assert all(a.request_headers for a in retried)
        assert (counts.messages_deleted, counts.messages_expunged) == (1, 2)
        # Idempotent: a second round finds nothing more.
        again = await _purge(Purger(runtime.store, runtime.settings, clock))
        assert again.total == 0
    finally:
        await runtime.stop()


async def _purge(purger: Purger) -> PurgeCounts:
    """One purge round, once the purge lock is free: PostgreSQL's advisory lock is the
    server's, and tests in other schemas of the same database purge too."""
    counts: PurgeCounts = await wait_until(purger.run_once, what="the purge lock")
    return counts


async def _settled_or_waiting(runtime: Runtime) -> None:
    """Every delivery finished, or waiting for a retry not yet due or behind a disabled
    endpoint; none held by a worker."""
    async def quiet() -> bool:
        [row] = await _rows(runtime, "SELECT COUNT(*) AS n FROM deliveries d JOIN endpoints e "
                                     "ON e.id = d.endpoint_id WHERE d.status = 'pending' AND "
                                     "(d.lease_id IS NOT NULL OR (d.next_attempt_at <= $1 AND "
                                     "NOT e.disabled))", runtime.service.clock())
        return int(row["n"]) == 0

    await wait_until(quiet, what="no delivery due or in flight")


async def _park_one(runtime: Runtime, app_id: str, endpoint_id: str, at: float) -> str:
    """A message published long ago whose delivery to `endpoint_id` is still pending."""
    from hookline import ids
    from hookline.models import Message

    msg = Message(id=ids.new_id(ids.MESSAGE, now=at), app_id=app_id, event_type="a.b",
                  payload={"label": "pending"}, created_at=at)
    await runtime.store.publish(msg, None, select=lambda m, subs: [
        s for s in subs if s.id == endpoint_id])
    return msg.id


async def test_the_migration_converts_a_populated_database(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with without_migration(monkeypatch, "0014"):
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            now = runtime.service.clock()
            app = await runtime.service.create_app("before")
            ep = await runtime.service.create_endpoint(app.id, url="https://example.com/hook")
            async with runtime.store.db.transaction() as tx:  # type: ignore[attr-defined]
                for n in range(30):
                    at = now - n * 1800.0
                    mid, did = f"msg_old{n}", f"dlv_old{n}"
                    await tx.execute(
                        "INSERT INTO messages (id, app_id, event_type, payload, created_at) "
                        "VALUES ($1, $2, 'a.b', '{\"n\": 1}', $3)", mid, app.id, at)
                    await tx.execute(
                        "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
                        "attempt_count, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6)",
                        did, mid, ep.id, app.id, ("succeeded", "failed", "pending")[n % 3], at)
                    await tx.execute(
                        "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, "
                        "url, created_at, succeeded, trigger) VALUES ($1, $2, $3, $4, $5, 'u', "
                        "$6, $7, $8)", f"atmpt_old{n}", did, mid, ep.id, app.id, at, n % 3 == 0,
                        "test" if n % 5 == 0 else "scheduled")
        finally:
            await runtime.stop()
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        attempts, deliveries = await _full_counts(runtime)
        assert sum(attempts.values()) == 24 and sum(deliveries.values()) == 20
        assert await _rollups(runtime, "attempt_rollups") == +attempts
        assert await _rollups(runtime, "delivery_rollups") == +deliveries
        stats = await runtime.service.endpoint_stats(app.id, ep.id)
        assert stats.deliveries["pending"] == 10
        assert stats.last_24h.total == 24
        msg = await runtime.service.get_message(app.id, "msg_old3")
        assert msg.payload == {"n": 1} and not msg.expunged
    finally:
        await runtime.stop()


async def test_one_process_purges_at_a_time(settings: Settings) -> None:
    """While another process holds the purge (PostgreSQL's advisory lock), a purger steps
    aside instead of waiting; SQLite's write lock serializes purges by itself."""
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        purger = Purger(runtime.store, runtime.settings)
        if not runtime.store.dialect.purge_guard:  # type: ignore[attr-defined]
            result = await purger.run_once()
            assert result is not None and result.total == 0
            return
        import asyncpg

        from hookline.store.dialect import PURGE_LOCK

        other = await asyncpg.connect(settings.database_url)
        try:
            await other.execute(f"SELECT pg_advisory_lock({PURGE_LOCK})")
            assert await purger.run_once() is None
            await other.execute(f"SELECT pg_advisory_unlock({PURGE_LOCK})")
            await _purge(purger)  # once no other test's purger holds it either
        finally:
            await other.close()
    finally:
        await runtime.stop()


async def _history_size(runtime: Runtime) -> int:
    """Bytes the history takes: SQLite's pages (the purger hands freed ones back); on
    PostgreSQL the history tables after a plain VACUUM, which autovacuum runs in production
    (dead rows become reusable space, as they would within a minute there)."""
    async with runtime.store.db.connection() as conn:  # type: ignore[attr-defined]
        if runtime.store.dialect.reclaim_space:  # type: ignore[attr-defined]
            pages = await conn.fetchrow("PRAGMA page_count")
            size = await conn.fetchrow("PRAGMA page_size")
            return int(pages[0]) * int(size[0])
        await conn.execute("VACUUM attempts, deliveries, messages")
        row = await conn.fetchrow(
            "SELECT SUM(pg_total_relation_size(c)) FROM unnest(ARRAY['attempts', "
            "'deliveries', 'messages']::regclass[]) c")
        return int(row[0])


async def test_under_a_steady_load_the_size_stops_growing_after_the_first_retention_period(
        settings: Settings, receiver: Receiver) -> None:
    """Issue 18's target 2, compressed: a retention of one (fake) day, 12 messages with 2 KB
    payloads every 12 hours for 5 days, purged after each step. The rows stay at a day's
    worth; the space stops growing: on SQLite from the first period, on PostgreSQL a period
    or two later (a b-tree page emptied by one vacuum is reusable only after the next)."""
    clock = FakeClock()
    steps_per_day, per_step, days = 2, 12, 5
    runtime = await start_runtime_on(clock, settings.with_(
        retention_days=1.0, payload_retention_days=0.5, purge_interval=3600.0))
    try:
        svc = runtime.service
        app = await svc.create_app("steady")
        await svc.create_endpoint(app.id, url=receiver.url("/ok"))
        purger = Purger(runtime.store, runtime.settings, clock)
        sizes, rows = [], []
        for step in range(days * steps_per_day):
            for n in range(per_step):
                await svc.publish(app.id, "a.b", {"n": n, "padding": "x" * 2048})
            await receiver.wait_for((step + 1) * per_step)
            await deliveries_settled(runtime)
            clock.advance(DAY / steps_per_day)
            await _purge(purger)
            if (step + 1) % steps_per_day == 0:
                sizes.append(await _history_size(runtime))
                [count] = await _rows(runtime, "SELECT COUNT(*) AS n FROM messages")
                rows.append(int(count["n"]))
        # A day's worth of messages, give or take the step the clock is in.
        assert all(n <= (steps_per_day + 1) * per_step for n in rows), rows
        assert max(sizes[2:]) <= sizes[2] * 1.15, sizes
    finally:
        await runtime.stop()


async def _vacuum_counts(runtime: Runtime) -> dict[str, int]:
    rows = await _rows(runtime, "SELECT relname, vacuum_count FROM pg_stat_user_tables "
                                "WHERE schemaname = current_schema()")
    return {row["relname"]: int(row["vacuum_count"]) for row in rows}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_with_autovacuum_off_the_purge_vacuums_the_tables_it_emptied(
        settings: Settings, receiver: Receiver) -> None:
    """Without VACUUM, PostgreSQL never reuses the space of deleted rows: the purge would keep
    the rows bounded and the files growing. Where autovacuum is off (here on the tables, as
    a server with it off has it everywhere), the purger vacuums what autovacuum would have."""
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings.with_(retention_days=1.0,
                                                          purge_interval=3600.0))
    try:
        async with runtime.store.db.connection() as conn:  # type: ignore[attr-defined]
            for table in ("messages", "deliveries", "attempts"):
                await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        svc = runtime.service
        app = await svc.create_app("vacuumed")
        await svc.create_endpoint(app.id, url=receiver.url("/ok"))
        for n in range(120):
            await svc.publish(app.id, "a.b", {"n": n})
        await receiver.wait_for(120)
        await deliveries_settled(runtime)
        before = await _vacuum_counts(runtime)
        clock.advance(2 * DAY)
        purger = Purger(runtime.store, runtime.settings, clock)
        assert (await _purge(purger)).messages_deleted == 120

        async def vacuumed() -> dict[str, int]:
            # The statistics that count dead rows reach the server within a second or so;
            # until then (or while this runtime's own purger vacuums) there is nothing to do.
            await runtime.store.reclaim_space(vacuum=True)
            after = await _vacuum_counts(runtime)
            done = {t for t in ("messages", "deliveries", "attempts")
                    if after.get(t, 0) > before.get(t, 0)}
            return after if len(done) == 3 else {}
        await wait_until(vacuumed, timeout=15, what="the purged tables vacuumed")
        [row] = await _rows(runtime, "SELECT n_dead_tup FROM pg_stat_user_tables "
                                     "WHERE schemaname = current_schema() "
                                     "AND relname = 'messages'")
        assert row["n_dead_tup"] < 50
        assert await runtime.store.reclaim_space(vacuum=False) == []
    finally:
        await runtime.stop()
