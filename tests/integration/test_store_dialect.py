"""The store's shape: every named statement is valid SQL on both databases, each written for
its dialect; `listen` is part of the interface; the store applies the rules it is given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.models import Attempt, DeliveryStatus, Endpoint
from hookline.runtime import Runtime
from hookline.store.base import DeliveryResult
from hookline.store.postgres import PostgresStore
from hookline.store.queries import Queries
from hookline.store.sqlite import SqliteStore
from tests.conftest import fresh_postgres_schema
from tests.support.api import make_settings


def statements(q: Queries) -> Iterator[str]:
    """Every statement of a query set, with the dialect's own."""
    for name, value in vars(q).items():
        if name == "dialect":
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, tuple):
            yield from value
        elif isinstance(value, dict):
            yield from value.values()
    yield q.endpoint_attempt_counts(3)
    yield from (s for s in (q.dialect.lock_migrations, q.dialect.notify_due) if s)


async def compile_statement(store: Any, sql: str) -> None:
    """Parse and plan `sql` without running it."""
    if isinstance(store, PostgresStore):
        async with store.db.pool.acquire() as conn:
            await conn.prepare(sql)
    else:
        assert isinstance(store, SqliteStore)
        params = {str(i): None for i in range(1, 40)}
        await store.db.run(lambda c: c.execute(f"EXPLAIN {sql}", params).fetchall())


async def started(url: str, tmp_path: Path) -> Runtime:
    """A migrated store and its service, with no worker to claim what a test publishes."""
    return await Runtime.start(make_settings(url, tmp_path), with_worker=False)


@pytest.fixture
async def quiet_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = await started(database_url, tmp_path)
    yield rt
    await rt.stop()


@pytest.fixture
async def sqlite_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = await started(f"sqlite:///{tmp_path}/hookline.db", tmp_path)
    yield rt
    await rt.stop()


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    yield from fresh_postgres_schema(postgres_url)


@pytest.fixture
async def postgres_runtime(postgres_schema: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = await started(postgres_schema, tmp_path)
    yield rt
    await rt.stop()


async def test_every_named_statement_is_valid_sql_on_both_databases(
    quiet_runtime: Runtime,
) -> None:
    store: Any = quiet_runtime.store
    checked = 0
    for sql in statements(store.q):
        await compile_statement(store, sql)
        checked += 1
    assert checked > 60


async def test_sqlite_statements_carry_no_postgresql_casts(sqlite_runtime: Runtime) -> None:
    store: Any = sqlite_runtime.store
    assert isinstance(store, SqliteStore)
    assert [sql for sql in statements(store.q) if "::" in sql] == []


async def test_listen_is_woken_by_deliveries_made_due_on_another_connection(
    postgres_runtime: Runtime,
) -> None:
    """Only PostgreSQL tells other processes; SQLite's workers poll."""
    store = postgres_runtime.store
    assert isinstance(store, PostgresStore)
    heard = asyncio.Event()
    stop = await store.listen(heard.set)
    try:
        svc = postgres_runtime.service
        app = await svc.create_app("listening")
        await svc.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
        await svc.publish(app.id, "a.b", {"x": 1})
        await asyncio.wait_for(heard.wait(), timeout=10)
    finally:
        await stop()


async def test_listen_on_sqlite_returns_a_stop_that_can_be_awaited(
    sqlite_runtime: Runtime,
) -> None:
    store = sqlite_runtime.store
    assert isinstance(store, SqliteStore)
    heard: list[None] = []
    stop = await store.listen(lambda: heard.append(None))
    await stop()
    assert heard == []


async def test_record_results_disables_by_the_rule_it_is_given(
    quiet_runtime: Runtime,
) -> None:
    svc, store = quiet_runtime.service, quiet_runtime.store
    app = await svc.create_app("ruled")
    endpoint = await svc.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
    await svc.publish(app.id, "a.b", {"x": 1})
    [claim] = await store.claim_due_deliveries("test", 10, time.time() + 1, 30)
    failed = Attempt(id=claim.attempt_id, delivery_id=claim.delivery_id,
                     message_id=claim.message.id, endpoint_id=endpoint.id, app_id=app.id,
                     url=endpoint.url, created_at=time.time(), succeeded=False,
                     status_code=500, attempt_number=claim.attempt_number)
    seen: list[tuple[int, float]] = []

    def always(ep: Endpoint, at: float) -> str | None:
        seen.append((ep.consecutive_failures, at))
        return "the test's rule"

    disabled = await store.record_results(
        [DeliveryResult(failed, claim.lease_id, DeliveryStatus.FAILED, None)], always)

    assert [ep.id for ep in disabled] == [endpoint.id]
    assert seen == [(1, failed.created_at)]
    stored = await store.get_endpoint(app.id, endpoint.id)
    assert (stored.disabled, stored.disabled_reason) == (True, "the test's rule")
