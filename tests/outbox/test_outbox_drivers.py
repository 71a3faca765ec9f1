"""What the outbox promises, on a real PostgreSQL for each driver (and on SQLite): an event
is delivered if and only if the transaction that published it committed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hookline import outbox
from hookline.relay import HttpSink, OutboxRelay, outbox_backlog
from hookline.relay.sources import SqliteSource
from tests.outbox.conftest import Hookline
from tests.outbox.drivers import POSTGRES_DRIVERS, with_sqlite3
from tests.support.api import ADMIN_TOKEN
from tests.support.polling import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("driver", sorted(POSTGRES_DRIVERS))
async def test_a_committed_event_is_delivered_and_a_rolled_back_one_never(
        driver: str, app_db: str, hookline: Hookline, relay: OutboxRelay) -> None:
    write = POSTGRES_DRIVERS[driver]
    relayed = relay.stats().rows_relayed
    await write(app_db, {"test": driver, "n": 1}, True)
    await write(app_db, {"test": driver, "n": 2}, False)
    await write(app_db, {"test": driver, "n": 3}, True)

    await wait_until(lambda: len(hookline.events(driver)) >= 2, what="two deliveries")
    await wait_until(lambda: relay.stats().rows_relayed == relayed + 2, what="the relay")

    assert sorted(e["n"] for e in hookline.events(driver)) == [1, 3]
    assert (await outbox_backlog(app_db)).pending == 0


async def test_sqlite3_commits_are_delivered_and_rollbacks_never(
        tmp_path: Path, hookline: Hookline) -> None:
    path = str(tmp_path / "app.db")
    conn = sqlite3.connect(path)
    outbox.create_table(conn)
    conn.close()
    relay = OutboxRelay(SqliteSource(f"sqlite:///{path}"),
                        HttpSink(hookline.api.base_url, ADMIN_TOKEN), poll_interval=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await with_sqlite3(path, {"test": "sqlite3", "n": 1}, True)
        await with_sqlite3(path, {"test": "sqlite3", "n": 2}, False)
        await with_sqlite3(path, {"test": "sqlite3", "n": 3}, True)
        await wait_until(lambda: len(hookline.events("sqlite3")) >= 2, what="two deliveries")
        await wait_until(lambda: relay.stats().rows_relayed == 2, what="the relay to settle")
    finally:
        relay.stop()
        await task

    assert sorted(e["n"] for e in hookline.events("sqlite3")) == [1, 3]
    assert (await outbox_backlog(f"sqlite:///{path}")).pending == 0


async def test_a_row_hookline_refuses_is_kept_with_why_and_the_rest_flow_past_it(
        app_db: str, hookline: Hookline, relay: OutboxRelay) -> None:
    import asyncpg

    refused = relay.stats().rows_refused
    conn = await asyncpg.connect(app_db)
    try:
        async with conn.transaction():
            await outbox.publish(conn, "shop", "not a type!", {"test": "refused", "n": 1})
            await outbox.publish(conn, "shop", "order.paid", {"test": "refused", "n": 2})
    finally:
        await conn.close()

    await wait_until(lambda: hookline.events("refused"), what="the valid event")
    await wait_until(lambda: relay.stats().rows_refused == refused + 1, what="the refusal")
    backlog = await outbox_backlog(app_db)
    assert [e["n"] for e in hookline.events("refused")] == [2]
    assert (backlog.pending, backlog.refused) == (0, 1)
