"""HOOKLINE_OUTBOX_SOURCES: the delivery worker's runtime relays each source itself, publishing
through its own service (no HTTP, no token), and shows the relay's figures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from hookline import outbox
from hookline.models import EventType
from hookline.runtime import Runtime
from tests.support.api import make_settings
from tests.support.polling import wait_until
from tests.support.receiver import Receiver


@pytest.fixture
async def runtime_with_outbox(app_db: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path,
                             outbox_sources=(app_db,), outbox_poll_interval=0.2)
    runtime = await Runtime.start(settings)
    yield runtime
    await runtime.stop()


async def test_the_worker_relays_its_sources_through_its_own_service(
        app_db: str, runtime_with_outbox: Runtime, receiver: Receiver) -> None:
    service = runtime_with_outbox.service
    app = await service.create_app("Shop", uid="shop")
    await service.create_endpoint(app.id, url=receiver.url())
    conn = await asyncpg.connect(app_db)
    try:
        async with conn.transaction():
            await outbox.publish(conn, "shop", "order.paid", {"n": 1})
    finally:
        await conn.close()

    [request] = await receiver.wait_for(1)
    [relay] = runtime_with_outbox.relays
    await wait_until(lambda: relay.stats().rows_relayed == 1, what="the relay's count")
    assert b'"n":1' in request.body
    assert relay.stats().leader


async def test_a_schema_added_while_the_relay_runs_checks_its_next_batch(
        app_db: str, runtime_with_outbox: Runtime, receiver: Receiver) -> None:
    """The relay's batches read the configuration version once each, as API requests do:
    what it cached before (no schema for order.paid) is not used after a change."""
    service = runtime_with_outbox.service
    app = await service.create_app("Shop", uid="shop")
    await service.create_endpoint(app.id, url=receiver.url())
    [relay] = runtime_with_outbox.relays
    await _commit(app_db, {"n": "one"})
    await receiver.wait_for(1)
    await service.create_event_type(EventType("order.paid", schema={
        "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}))

    await _commit(app_db, {"n": "two"}, {"n": 3})
    await receiver.wait_for(2)
    await wait_until(lambda: relay.stats().rows_refused == 1, what="the refusal")
    assert [json.loads(r.body)["data"]["n"] for r in receiver.requests] == ["one", 3]


async def _commit(url: str, *payloads: dict[str, object]) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for payload in payloads:
                await outbox.publish(conn, "shop", "order.paid", payload)
    finally:
        await conn.close()
