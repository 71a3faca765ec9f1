"""A claim leases no more deliveries of an endpoint than the worker has room to start."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from hookline.config import Settings
from hookline.runtime import Runtime
from tests.support.api import make_settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


async def _two_endpoints_with_backlog(rt: Runtime, messages: int) -> tuple[str, str]:
    svc = rt.service
    app = await svc.create_app("claims")
    first = await svc.create_endpoint(app.id, url="http://127.0.0.1:9/a")
    second = await svc.create_endpoint(app.id, url="http://127.0.0.1:9/b")
    for n in range(messages):
        await svc.publish(app.id, "a.b", {"n": n})
    return first.id, second.id


async def test_a_claim_takes_at_most_each_endpoints_room(control: Runtime) -> None:
    first, second = await _two_endpoints_with_backlog(control, 10)
    claims = await control.store.claim_due_deliveries(
        "w", 100, time.time() + 1, 60, (), {first: 3}, 5)
    assert Counter(c.endpoint.id for c in claims) == {first: 3, second: 5}


async def test_deliveries_a_claim_leaves_for_lack_of_room_stay_due(control: Runtime) -> None:
    first, second = await _two_endpoints_with_backlog(control, 4)
    now = time.time() + 1
    taken = await control.store.claim_due_deliveries("w", 100, now, 60, (), {}, 1)
    rest = await control.store.claim_due_deliveries("w", 100, now, 60, (), {}, 100)
    assert Counter(c.endpoint.id for c in taken) == {first: 1, second: 1}
    assert Counter(c.endpoint.id for c in rest) == {first: 3, second: 3}
    assert not {c.delivery_id for c in taken} & {c.delivery_id for c in rest}


async def test_claims_keep_decoded_endpoints_only_until_their_settings_change(
        control: Runtime) -> None:
    """Endpoints are read once per configuration version: the next claim after a change
    (here the URL, then the secret) sends with the new settings, never the kept ones."""
    svc, store = control.service, control.store
    await _two_endpoints_with_backlog(control, 3)
    now = time.time() + 1
    [claim] = await store.claim_due_deliveries("w", 1, now, 60, (), {}, 1, 1)
    kept = claim.endpoint
    again = await store.claim_due_deliveries("w", 2, now, 60, (), {}, 1, 1)
    assert any(c.endpoint is kept for c in again)  # the same decoded endpoint, kept

    app_id = kept.app_id
    await svc.update_endpoint(app_id, kept.id, url="http://127.0.0.1:9/moved")
    moved = await store.claim_due_deliveries("w", 2, now, 60, (), {}, 2, 2)
    assert {c.endpoint.url for c in moved if c.endpoint.id == kept.id} == {
        "http://127.0.0.1:9/moved"}

    rotated = await svc.rotate_endpoint_secret(app_id, kept.id)
    await svc.publish(app_id, "a.b", {"n": "after"})
    after = await store.claim_due_deliveries("w", 10, time.time() + 1, 60, (), {}, 10, 10)
    assert {c.endpoint.secret for c in after if c.endpoint.id == kept.id} == {rotated.secret}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claim_still_reads_its_messages_after_a_migration_adds_a_column(
        control: Runtime) -> None:
    """PostgreSQL's claim answers with its messages (migration 0032): as JSON, so a worker's
    connections, open across a later migration that adds a column to messages, still
    decode them."""
    first, second = await _two_endpoints_with_backlog(control, 2)
    store = control.store
    before = await store.claim_due_deliveries("w", 2, time.time() + 1, 60, (), {}, 1)
    assert {c.message.payload["n"] for c in before} == {0}
    async with store.db.connection() as conn:  # type: ignore[attr-defined]
        await conn.execute("ALTER TABLE messages ADD COLUMN added_later TEXT")
    after = await store.claim_due_deliveries("w", 4, time.time() + 1, 60, (), {}, 2)
    assert Counter(c.endpoint.id for c in after) == {first: 1, second: 1}
    assert {c.message.payload["n"] for c in after} == {1}
