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
from ..secretbox import SecretBox
from .base import Claim, Connection, Row, Store, new_lease_id

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
        lease_id = new_lease_id()
        within_room = self.WITHIN_ROOM_SQL.format(room="jsonb_each_text($7::jsonb)")
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "WITH due AS (SELECT d.id, d.endpoint_id, d.next_attempt_at "
                f"{self.due_deliveries_sql()} FOR UPDATE OF d SKIP LOCKED), "
                f"taken AS ({within_room}) "
                "UPDATE deliveries d SET next_attempt_at = $1 + $3, lease_owner = $4, "
                "lease_id = $5, attempt_count = d.attempt_count + 1 FROM taken "
                "WHERE d.id = taken.id "
                "RETURNING d.id, d.message_id, d.endpoint_id, d.attempt_count, d.trigger",
                now, limit, lease, owner, lease_id, self.list_param(exclude_endpoints),
                self.room_param(room or {}), default_room or limit)
            return await self._load_claims(tx, rows, lease_id, owner, now)

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
