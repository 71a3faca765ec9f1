"""A disabled endpoint's waitingCount is counted by the database, on both: the same number as
fan-out's rule (event type filters with `*`, channels) applied in Python, and, on
PostgreSQL, a plan that reads an index of the application's messages, not the whole table."""

from __future__ import annotations

import re
from typing import Any

from hookline.models import Endpoint
from hookline.runtime import Runtime
from hookline.service.core import endpoint_wants
from hookline.store.base import ReplayWindow
from hookline.store.postgres import PostgresStore
from hookline.store.sqlite import SqliteStore

# (event type, channels): which of them the endpoint below wants, and why not.
PUBLISHED = [
    ("a.b", ["c1"]),  # wanted
    ("a.c.d", ["c2", "c9"]),  # wanted: `*` spans dots, one channel shared is enough
    ("a.b", None),  # no channel
    ("ab", ["c1"]),  # `a.*` needs the dot
    ("A.b", ["c1"]),  # case matters
    ("x_y", ["c1"]),  # wanted: an exact name
    ("x-y", ["c1"]),  # `_` is no wildcard
    ("a.b", ["c3"]),  # no channel shared
    ("a.b", ["c2"]),  # wanted, but delivered
]


async def dark_endpoint(runtime: Runtime) -> tuple[Endpoint, float]:
    """An endpoint for `a.*` and `x_y` on channels c1 and c2, disabled after its first
    delivery succeeded (a delivery to it stands succeeded), and when its dark time began."""
    service = runtime.service
    app = await service.create_app("Waiting")
    endpoint = await service.create_endpoint(app.id, url="http://127.0.0.1:9/hook",
                                             filter_types=["a.*", "x_y"],
                                             channels=["c1", "c2"])
    since = service.clock() - 1
    delivered = await service.publish(app.id, "a.b", {}, channels=["c2"])
    async with runtime.store.db.transaction() as tx:  # type: ignore[attr-defined]
        await tx.execute("UPDATE deliveries SET status = 'succeeded' WHERE message_id = $1",
                         delivered.message.id)
    await service.update_endpoint(app.id, endpoint.id, disabled=True)
    for event_type, channels in PUBLISHED[:-1]:
        await service.publish(app.id, event_type, {}, channels=channels)
    await service.send_example(app.id, endpoint.id, "a.b", {})  # a test send is not missed
    return await service.get_endpoint(app.id, endpoint.id), since


async def test_the_database_counts_what_fan_out_would_have_sent_and_was_not_delivered(
    control: Runtime,
) -> None:
    store = control.store
    endpoint, since = await dark_endpoint(control)
    wanting = Endpoint(**{**endpoint.__dict__, "disabled": False})
    by_python = await store.replay_missed(endpoint, ReplayWindow(
        since, None, lambda m: endpoint_wants(wanting, m), include_pending=True),
        control.service.clock(), dry_run=True)

    counted = await store.count_missed(endpoint, since, endpoint.filter_types,
                                       endpoint.channels)
    assert counted == by_python.count == 3
    assert await store.count_missed(endpoint, since, None, None) == len(PUBLISHED) - 1
    assert await store.count_missed(endpoint, control.service.clock() + 1,
                                    None, None) == 0


async def plan_of(store: Any, sql: str, *args: Any) -> str:
    if isinstance(store, PostgresStore):
        async with store.db.pool.acquire() as conn, conn.transaction():
            # Tables this small are cheaper to scan: ask whether an index can serve it.
            await conn.execute("SET LOCAL enable_seqscan = off")
            rows = await conn.fetch(f"EXPLAIN {sql}", *args)
        return "\n".join(r[0] for r in rows)
    assert isinstance(store, SqliteStore)
    params = {str(n): value for n, value in enumerate(args, start=1)}
    rows = await store.db.run(
        lambda c: c.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
    return "\n".join(str(r[-1]) for r in rows)


async def test_the_count_reads_an_index_of_the_applications_messages(
    control: Runtime,
) -> None:
    store: Any = control.store
    endpoint, since = await dark_endpoint(control)
    plan = await plan_of(store, store.q.count_missed, endpoint.app_id, endpoint.id,
                         "msg_0", since, store.dialect.patterns_param(["a.*"]),
                         store.dialect.list_param(["c1"]))
    assert not re.search(r"Seq Scan on messages|SCAN m\b", plan), plan
    assert re.search(r"Index (Only )?Scan using messages_app|SEARCH m USING "
                     r"(COVERING )?INDEX messages_app", plan), plan


async def test_a_message_whose_id_is_a_moment_older_than_its_created_at_is_counted(
    control: Runtime,
) -> None:
    """Publishing makes the id, then reads the clock: on a loaded machine the two can fall in
    different milliseconds, and the message still counts from its `created_at`."""
    from hookline import ids

    service = control.service
    app = await service.create_app("Moment")
    endpoint = await service.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
    await service.update_endpoint(app.id, endpoint.id, disabled=True)
    at = service.clock()
    async with control.store.db.transaction() as tx:  # type: ignore[attr-defined]
        await tx.execute(
            "INSERT INTO messages (id, app_id, event_type, payload, created_at) "
            "VALUES ($1, $2, 'a.b', '{}', $3)", ids.new_id(ids.MESSAGE, now=at - 0.004),
            app.id, at)
    shown = await service.get_endpoint(app.id, endpoint.id)
    assert await control.store.count_missed(shown, at, None, None) == 1
