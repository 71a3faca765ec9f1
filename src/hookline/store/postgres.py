"""PostgreSQL: production, and many worker processes on many machines sharing one database.

Claims use `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same delivery and
never wait on each other; the lease is committed before any HTTP request is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg

from ..errors import Conflict, InvalidInput, StoreUnavailable
from ..ids import ATTEMPT, new_id
from ..models import AttemptTrigger
from ..secretbox import SecretBox
from .base import Claim, Connection, DeliveryResult, Row, Store, new_lease_id
from .core import FailureStreak, attempt_values, message_from_row
from .deliveries import delivery_values

NOTIFY_CHANNEL = "hookline_deliveries"
_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


# Attempts upserted, deliveries moved on and endpoints' failure streaks updated in one
# statement from arrays ($1-$17 attempts, $18-$23 deliveries, $24-$29 streaks); returns the
# endpoints updated, for the auto-disable rule.
RECORD_RESULTS = (
    "WITH stored_attempts AS (INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, "
    "app_id, url, created_at, succeeded, trigger, status_code, response_body, duration_ms, "
    "error_kind, error_detail, request_headers, attempt_number, worker, sending) "
    "SELECT *, FALSE FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::float8[], $8::bool[], $9::text[], $10::int[], $11::text[], $12::int[], "
    "$13::text[], $14::text[], $15::text[], $16::int[], $17::text[]) "
    "ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
    "succeeded = excluded.succeeded, status_code = excluded.status_code, "
    "response_body = excluded.response_body, duration_ms = excluded.duration_ms, "
    "error_kind = excluded.error_kind, error_detail = excluded.error_detail, "
    "request_headers = excluded.request_headers, sending = FALSE), "
    "moved_on AS (UPDATE deliveries d SET status = r.status, attempt_count = r.attempt_number, "
    "next_attempt_at = r.next_attempt_at, last_attempt_at = r.created_at, lease_owner = NULL, "
    "lease_id = NULL, trigger = 'scheduled' FROM unnest($18::text[], $19::text[], $20::int[], "
    "$21::float8[], $22::float8[], $23::text[]) AS r(id, status, attempt_number, "
    "next_attempt_at, created_at, lease_id) WHERE d.id = r.id "
    "AND (r.lease_id IS NULL OR d.lease_id = r.lease_id OR d.lease_id IS NULL)) "
    "UPDATE endpoints e SET consecutive_failures = CASE WHEN s.succeeded THEN s.failures "
    "ELSE e.consecutive_failures + s.failures END, failing_since = CASE WHEN s.succeeded "
    "THEN s.failing_since ELSE COALESCE(e.failing_since, s.failing_since) END, "
    "last_success_at = COALESCE(s.last_success_at, e.last_success_at), "
    "last_attempt_at = s.last_attempt_at FROM unnest($24::text[], $25::bool[], $26::int[], "
    "$27::float8[], $28::float8[], $29::float8[]) AS s(id, succeeded, failures, "
    "failing_since, last_success_at, last_attempt_at) WHERE e.id = s.id RETURNING e.*")


# The rest of a claim after `taken` (the deliveries to lease): lease them ($1 now, $3 lease,
# $4 owner, $5 lease id), mark attempts a dead worker left *sending* as lost, and open this
# worker's attempts ($9: fresh attempt ids, one per delivery at most).
CLAIM_AND_OPEN_ATTEMPTS = (
    "claimed AS (UPDATE deliveries d SET next_attempt_at = $1 + $3, lease_owner = $4, "
    "lease_id = $5, attempt_count = d.attempt_count + 1 FROM taken WHERE d.id = taken.id "
    "RETURNING d.id, d.message_id, d.endpoint_id, d.app_id, d.attempt_count, d.trigger), "
    "numbered AS (SELECT claimed.*, ($9::text[])[row_number() OVER (ORDER BY claimed.id)] "
    "AS attempt_id FROM claimed), "
    "lost AS (UPDATE attempts SET sending = FALSE, error_kind = 'worker_lost', "
    "error_detail = 'the worker stopped before recording an outcome; sent again' "
    "WHERE sending AND delivery_id IN (SELECT id FROM claimed)), "
    "opened AS (INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
    "created_at, succeeded, sending, trigger, duration_ms, attempt_number, worker) "
    "SELECT n.attempt_id, n.id, n.message_id, n.endpoint_id, n.app_id, e.url, $1, FALSE, "
    "TRUE, n.trigger, 0, n.attempt_count, $4 FROM numbered n "
    "JOIN endpoints e ON e.id = n.endpoint_id) "
    "SELECT id, message_id, endpoint_id, attempt_count, trigger, attempt_id FROM numbered")


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


class _PgConnection:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._conn.fetchrow(sql, *args)

    def savepoint(self) -> Any:
        """A nested transaction inside the one open on this connection."""
        return self._conn.transaction()


class PostgresDatabase:
    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self.pool = pool
        # The transaction this task has open, which nested store calls join (one
        # idempotent request is one transaction, whatever it writes).
        # A task started inside it does not join it (the pair holds the task).
        self._joined: ContextVar[tuple[object, _PgConnection] | None] = ContextVar(
            f"hookline_pg_tx_{id(self)}", default=None)

    @asynccontextmanager
    async def _acquire(self, transactional: bool) -> AsyncIterator[_PgConnection]:
        try:
            joined = self._joined.get()
            if joined is not None and joined[0] is asyncio.current_task():
                if transactional:
                    # A savepoint: a nested step that fails and is handled leaves the outer
                    # transaction usable (PostgreSQL aborts a transaction on any error).
                    async with joined[1].savepoint():
                        yield joined[1]
                else:
                    yield joined[1]
                return
            async with self.pool.acquire() as conn:
                if transactional:
                    async with conn.transaction():
                        tx = _PgConnection(conn)
                        token = self._joined.set((asyncio.current_task(), tx))
                        try:
                            yield tx
                        finally:
                            self._joined.reset(token)
                else:
                    yield _PgConnection(conn)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"conflicts with an existing record ({exc.detail or exc})") from None
        except asyncpg.CharacterNotInRepertoireError:
            # A NUL in text: validation refuses it in every field it knows of; this is the net
            # for any other (an id typed into a form), so it is a 422, never a 500.
            raise InvalidInput("the request holds a NUL character, which cannot be stored "
                               "or looked up") from None
        except _UNAVAILABLE as exc:
            raise StoreUnavailable("the database is unreachable; try again shortly") from exc

    def transaction(self) -> Any:
        return self._acquire(True)

    def connection(self) -> Any:
        return self._acquire(False)

    async def close(self) -> None:
        await self.pool.close()


class PostgresStore(Store):
    dialect = "postgres"

    @classmethod
    async def connect(cls, url: str, box: SecretBox, *, pool_size: int = 10) -> PostgresStore:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size,
                                             command_timeout=30)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(PostgresDatabase(url, pool), box)

    def any_of(self, placeholder: str) -> str:
        return f"= ANY({placeholder}::text[])"

    def list_param(self, values: Sequence[str]) -> Any:
        return list(values)

    async def _lock_migrations(self, tx: Connection) -> None:
        await tx.execute("SELECT pg_advisory_xact_lock(727274)")

    async def claim_due_deliveries(
        self, owner: str, limit: int, now: float, lease: float,
        exclude_endpoints: Sequence[str] = (), room: Mapping[str, int] | None = None,
        default_room: int | None = None,
    ) -> list[Claim]:
        """One statement leases the deliveries, closes attempts a dead worker left open and
        stores this worker's attempts as *sending* (atomic without a transaction around it);
        then the messages and endpoints are read."""
        lease_id = new_lease_id()
        attempt_ids = [new_id(ATTEMPT) for _ in range(limit)]
        within_room = self.WITHIN_ROOM_SQL.format(room="jsonb_each_text($7::jsonb)")
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "WITH due AS (SELECT d.id, d.endpoint_id, d.next_attempt_at "
                f"{self.due_deliveries_sql()} FOR UPDATE OF d SKIP LOCKED), "
                f"taken AS ({within_room}), {CLAIM_AND_OPEN_ATTEMPTS}",
                now, limit, lease, owner, lease_id, self.list_param(exclude_endpoints),
                self.room_param(room or {}), default_room or limit, attempt_ids)
            if not rows:
                return []
            messages = {r["id"]: message_from_row(r) for r in await conn.fetch(
                "SELECT * FROM messages WHERE id = ANY($1::text[])",
                sorted({r["message_id"] for r in rows}))}
            endpoints = {r["id"]: self._endpoint(r) for r in await conn.fetch(
                "SELECT * FROM endpoints WHERE id = ANY($1::text[])",
                sorted({r["endpoint_id"] for r in rows}))}
        return [
            Claim(r["id"], r["attempt_count"], r["attempt_id"], AttemptTrigger(r["trigger"]),
                  lease_id, messages[r["message_id"]], endpoints[r["endpoint_id"]])
            for r in rows if r["message_id"] in messages and r["endpoint_id"] in endpoints
        ]

    async def _store_results(self, tx: Connection, results: Sequence[DeliveryResult],
                             streaks: dict[str, FailureStreak]) -> list[Row]:
        """One statement for the whole batch (arrays unnested), not one per row."""
        attempts = _columns([attempt_values(r.attempt) for r in results], 17)
        deliveries = _columns(delivery_values(results), 6)
        streak_rows = _columns(
            [(endpoint_id, s.succeeded, s.failures, s.failing_since, s.last_success_at,
              s.last_attempt_at) for endpoint_id, s in streaks.items()], 6)
        return await tx.fetch(RECORD_RESULTS, *attempts, *deliveries, *streak_rows)

    async def _notify_due(self, conn: Connection) -> None:
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")

    async def listen(self, callback: Callable[[], None]) -> Callable[[], Any]:
        """Call `callback` whenever any process publishes; returns a coroutine fn to stop."""
        conn: asyncpg.Connection = await asyncpg.connect(self.db.url)  # type: ignore[attr-defined]

        def on_notify(*_: Any) -> None:
            callback()

        await conn.add_listener(NOTIFY_CHANNEL, on_notify)

        async def stop() -> None:
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

        return stop
