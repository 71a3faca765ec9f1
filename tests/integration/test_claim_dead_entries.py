"""A PostgreSQL claim does not slow down as a busy queue leaves dead index entries behind
(migration 0031). Every claimed and recorded delivery leaves an entry for its old row in the
indexes it left (deliveries_leased, deliveries_first_due) until VACUUM; a plain index scan
marks each one dead as it passes, a bitmap scan visits its row's page again on every claim.
So a claim after thousands of deliveries reads about as many of the table's pages as a claim
on a fresh queue (without 0031: 216 -> 722 pages after 10,000; with it, 228 -> 234). Measured
in pages, not time; run alone (`exclusive`), since another session's open snapshot keeps
dead entries from being marked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hookline.models import Attempt, DeliveryStatus
from hookline.runtime import Runtime
from hookline.service.messages import MessageDraft
from hookline.store.core import Claim, DeliveryResult
from tests.conftest import fresh_postgres_schema
from tests.support.api import make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.exclusive]

BACKLOG = 10_000
ROOM = 25


async def _deliveries_pages_of_a_claim(runtime: Runtime) -> int:
    """Pages of the deliveries table (its rows, not its indexes) a claim of ROOM deliveries
    reads, once an identical claim before it marked what it met; both rolled back (marks on
    index entries are not transactional). From the table's I/O statistics, flushed after
    each step."""
    async with runtime.store.db.connection() as conn:

        async def pages_so_far() -> int:
            await conn.execute("SELECT pg_stat_force_next_flush()")  # flushed once idle
            row = await conn.fetchrow(
                "SELECT heap_blks_hit + heap_blks_read AS n FROM pg_statio_user_tables "
                "WHERE relid = 'deliveries'::regclass")
            return int(row["n"])

        for _ in range(2):
            before = await pages_so_far()
            await conn.execute("BEGIN")
            await conn.fetch(
                "SELECT * FROM hookline_claim($1, 100, 30, 'test', 'lease', '{}', '{}', $2, $2, "
                "ARRAY(SELECT 'att_' || g FROM generate_series(1, 100) g), '{}')",
                runtime.service.clock() + 1, ROOM)
            await conn.execute("ROLLBACK")
        return await pages_so_far() - before


def _delivered(claims: list[Claim], at: float) -> list[DeliveryResult]:
    return [DeliveryResult(Attempt(
        id=c.attempt_id, delivery_id=c.delivery_id, message_id=c.message.id,
        endpoint_id=c.endpoint.id, app_id=c.message.app_id, url=c.endpoint.url, created_at=at,
        succeeded=True, trigger=c.trigger, status_code=200, attempt_number=c.attempt_number,
        worker="test"), c.lease_id, DeliveryStatus.SUCCEEDED, None) for c in claims]


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    yield from fresh_postgres_schema(postgres_url)


@pytest.fixture
async def runtime(schema_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(make_settings(schema_url, tmp_path), with_worker=False)
    yield rt
    await rt.stop()


async def test_a_claim_reads_as_many_pages_after_thousands_of_deliveries(
        runtime: Runtime) -> None:
    svc, store = runtime.service, runtime.store
    app = await svc.create_app("dead entries")
    await svc.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
    for start in range(0, BACKLOG + ROOM, 100):
        await svc.publish_batch(app.id, [MessageDraft("a.b", {"n": n})
                                         for n in range(start, start + 100)])
    fresh = await _deliveries_pages_of_a_claim(runtime)

    delivered = 0
    while delivered < BACKLOG:
        now = svc.clock() + 1
        claims = await store.claim_due_deliveries("test", 100, now, 30.0, (), {}, 100, 100)
        await store.record_results(_delivered(claims, now), lambda *_: None)
        delivered += len(claims)

    after = await _deliveries_pages_of_a_claim(runtime)
    assert after <= 1.5 * fresh, (fresh, after)
