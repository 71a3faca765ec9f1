"""History and backlogs for bench/history.py, written straight in SQL on PostgreSQL.

Millions of rows through the API would take hours; `generate_series` writes them in minutes.
Rows are numbered g = 0, 1, 2, ... from the newest: row g was created `g / rate` seconds
before `newest`. Ids sort like Hookline's (newer is greater), so keyset pages read them in
the order the server's own rows would be.

A large chunk is written with the tables' secondary indexes dropped and built again after
(one sort each instead of millions of index insertions), and with the rollup triggers off
(`session_replication_role = replica`): the rollup rows are computed from the series itself,
the way migration 0014 builds them for an existing database, so they agree with a full count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

HISTORY_TABLES = ("messages", "deliveries", "attempts")
ID_BASE = 10**15  # ids are prefix + "h" + (ID_BASE - g), zero-padded: newer sorts greater
CHUNK = 1_000_000  # rows per statement
DROP_INDEXES_FROM = 500_000  # chunks at least this big are written without secondary indexes


def _id(prefix: str) -> str:
    return f"'{prefix}_h' || lpad(({ID_BASE} - g)::text, 24, '0')"


@dataclass(frozen=True)
class Series:
    """Rows first..last (g) of a history: $1 app, $2 endpoint, $3 first, $4 last, $5 newest
    epoch, $6 seconds between rows."""

    app_id: str
    endpoint_id: str
    first: int
    last: int
    newest: float
    step: float

    def args(self) -> tuple[Any, ...]:
        return (self.app_id, self.endpoint_id, self.first, self.last, self.newest, self.step)


CREATED = "($5::float8 - g * $6::float8)"
SERIES = "FROM generate_series($3::bigint, $4::bigint) g WHERE $2::text IS NOT NULL"
# Delivered history: one message, one finished delivery and one attempt per row, 10 % failed.
DELIVERED = (
    "INSERT INTO messages (id, app_id, event_type, payload, created_at) "
    f"SELECT {_id('msg')}, $1, 'order.created', "
    f"'{{\"orderId\": 1, \"total\": 12.5}}', {CREATED} {SERIES}",
    "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, attempt_count, "
    f"created_at, last_attempt_at) SELECT {_id('dlv')}, {_id('msg')}, $2, $1, "
    f"CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 1, {CREATED}, {CREATED} "
    f"{SERIES}",
    "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, created_at, "
    "succeeded, trigger, status_code, response_body, duration_ms, request_headers, "
    f"attempt_number) SELECT {_id('atmpt')}, {_id('dlv')}, {_id('msg')}, $2, $1, "
    f"'https://example.com/hook', {CREATED}, g % 10 <> 0, 'scheduled', "
    "CASE WHEN g % 10 = 0 THEN 500 ELSE 200 END, 'ok', 12, "
    f"'{{\"content-type\": \"application/json\"}}', 1 {SERIES}",
)
# The rollup hours of those rows, from the series (no table scan): counted in, as triggers would.
ROLLUPS = tuple(
    f"INSERT INTO {table} AS r (endpoint_id, hour, app_id, succeeded, failed) "
    f"SELECT $2, FLOOR({CREATED} / 3600)::bigint, $1, COUNT(*) FILTER (WHERE g % 10 <> 0), "
    f"COUNT(*) FILTER (WHERE g % 10 = 0) {SERIES} GROUP BY 2 ON CONFLICT (endpoint_id, hour) "
    "DO UPDATE SET succeeded = r.succeeded + excluded.succeeded, "
    "failed = r.failed + excluded.failed"
    for table in ("attempt_rollups", "delivery_rollups"))
# A backlog: one message per row, a pending delivery due now for each endpoint in $2 (a list).
BACKLOG = (
    "INSERT INTO messages (id, app_id, event_type, payload, created_at) "
    f"SELECT {_id('msg')}, $1, 'order.created', "
    f"'{{\"orderId\": 1, \"total\": 12.5}}', {CREATED} "
    "FROM generate_series($3::bigint, $4::bigint) g WHERE $2::text[] IS NOT NULL",
    "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, attempt_count, "
    f"next_attempt_at, created_at) SELECT {_id('dlv')} || '_' || e.n, {_id('msg')}, e.id, $1, "
    f"'pending', 0, {CREATED}, {CREATED} FROM generate_series($3::bigint, $4::bigint) g "
    "CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS e(id, n)",
)


async def connect(url: str) -> Any:
    """A connection of its own for statements over millions of rows: no command timeout,
    no waiting for the WAL to reach the disk."""
    import asyncpg

    conn = await asyncpg.connect(url, command_timeout=None)
    await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
    return conn


async def secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    """(name, definition) of the history tables' indexes that back no constraint."""
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY($1) "
        "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname)", list(HISTORY_TABLES))
    return [(r["indexname"], r["indexdef"]) for r in rows]


async def write_rows(url: str, statements: tuple[str, ...], total: int,
                     args: Any, first: int = 0) -> float:
    """Rows first..first+total-1 of `statements` (each taking Series-shaped arguments from
    `args(start, stop)`), in chunks; the seconds it took, index builds and ANALYZE included."""
    started = time.perf_counter()
    conn = await connect(url)
    try:
        await conn.execute("SET session_replication_role = replica")  # no rollup triggers
        dropped = await secondary_indexes(conn) if total >= DROP_INDEXES_FROM else []
        for name, _ in dropped:
            await conn.execute(f'DROP INDEX "{name}"')
        for start in range(first, first + total, CHUNK):
            stop = min(start + CHUNK, first + total) - 1
            for sql in statements:
                await conn.execute(sql, *args(start, stop))
        for _, definition in dropped:
            await conn.execute(definition)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def add_history(url: str, app_id: str, endpoint_id: str, first: int, total: int,
                      newest: float, rate: float) -> float:
    """Rows first..first+total-1 of a delivered history at `rate` rows/s ending at `newest`,
    with their rollup hours; seconds taken."""
    def args(start: int, stop: int) -> tuple[Any, ...]:
        return Series(app_id, endpoint_id, start, stop, newest, 1.0 / rate).args()

    return await write_rows(url, DELIVERED + ROLLUPS, total, args, first)


async def add_backlog(url: str, app_id: str, endpoint_ids: list[str], total: int,
                      newest: float, rate: float = 1000.0) -> float:
    """`total` messages, each with a delivery due now to every endpoint; seconds taken."""
    def args(start: int, stop: int) -> tuple[Any, ...]:
        return (app_id, endpoint_ids, start, stop, newest, 1.0 / rate)

    return await write_rows(url, BACKLOG, total, args)


async def truncate_history(url: str) -> None:
    conn = await connect(url)
    try:
        await conn.execute("TRUNCATE attempts, deliveries, messages, attempt_rollups, "
                           "delivery_rollups")
    finally:
        await conn.close()


async def scalar(url: str, sql: str, *args: Any) -> Any:
    conn = await connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
