"""PostgreSQL: production, and many worker processes on many machines sharing one database.

Claims use `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same delivery and
never wait on each other; the lease is committed before any HTTP request is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ..errors import ConfigError, Conflict, InvalidInput, StoreUnavailable
from ..secretbox import SecretBox
from .base import Row, StopListening
from .core import Connection, Guard, T, WriteStep
from .dialect import NOTIFY_CHANNEL_OF_SCHEMA, POSTGRES, VACUUM_LOCK
from .sql import SqlStore
from .transactions import OpenTransaction, committed

_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # The database went away under a running server (dropped): unreachable until it is back.
    asyncpg.InvalidCatalogNameError,
)


# This schema's tables that autovacuum would vacuum by now if it ran (its default thresholds)
# and does not (off on the server, or on the table), the most dead rows first, quoted.
_TABLES_TO_VACUUM = """
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.n_dead_tup > 50 + 0.2 * s.n_live_tup
  AND (NOT current_setting('autovacuum')::boolean
       OR COALESCE(c.reloptions, '{}') && ARRAY['autovacuum_enabled=false',
                                                'autovacuum_enabled=off'])
ORDER BY s.n_dead_tup DESC
"""


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
        self._held: OpenTransaction[_PgConnection] = OpenTransaction(
            f"hookline_pg_tx_{id(self)}")

    @asynccontextmanager
    async def _acquire(self, transactional: bool) -> AsyncIterator[_PgConnection]:
        try:
            joined = self._held.joined()
            if joined is not None:
                if transactional:
                    # A savepoint: a nested step that fails and is handled leaves the outer
                    # transaction usable (PostgreSQL aborts a transaction on any error).
                    async with joined.savepoint():
                        yield joined
                else:
                    yield joined
                return
            async with self.pool.acquire() as conn:
                if transactional:
                    tx = _PgConnection(conn)
                    async with conn.transaction():
                        with self._held.opened(tx) as waiting:
                            yield tx
                    committed(waiting)
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

    async def write_atomically(self, steps: Sequence[WriteStep],
                               guard: Guard | None = None) -> bool:
        # The hot path does not come here: `publish_fanout` is one guarded statement.
        async with self.transaction() as tx:
            if guard is not None:
                row = await tx.fetchrow(guard[0])
                if row is None or row[0] != guard[1]:
                    return False
            for statement, rows in steps:
                await tx.executemany(statement, rows)
        return True

    async def in_transaction(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        async with self.transaction() as tx:
            return await body(tx)

    def connection(self) -> Any:
        return self._acquire(False)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._held.after_commit(callback)

    async def close(self) -> None:
        await self.pool.close()


# Sent once, in each pooled connection's start-up packet. Every statement Hookline runs is a
# short indexed read or write. After five executions PostgreSQL may switch a prepared
# statement to its generic plan, whose cost estimate (no parameter values) can pass
# `jit_above_cost` and a parallel plan's threshold: the portal's delivery log at 10 million
# attempts then took 430 ms (JIT compilation) or 43 ms (parallel workers' start-up) instead of
# 0.4 ms (bench/RESULTS.md, "History at scale (issue 18)").
OLTP_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to undo (see `PostgresStore.connect`)."""


class PostgresStore(SqlStore):
    db: PostgresDatabase

    @classmethod
    async def connect(cls, url: str, box: SecretBox, *, pool_size: int = 10) -> PostgresStore:
        try:
            # No reset query on release (asyncpg's default is a round trip every time):
            # Hookline leaves no session state on pooled connections. It runs no SET, takes
            # only transaction-scoped advisory locks and LISTENs on a connection of its own;
            # asyncpg still rolls back a transaction left open.
            pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size,
                                             command_timeout=30, reset=_keep_session,
                                             server_settings=OLTP_SETTINGS)
        except asyncpg.InvalidCatalogNameError:
            # Not worth waiting for, unlike a server that is starting: say so and stop.
            raise ConfigError(f"PostgreSQL database {_database_name(url)!r} does not exist "
                              "(create it first, e.g. with createdb)") from None
        except (asyncpg.InvalidAuthorizationSpecificationError,
                asyncpg.InvalidPasswordError) as exc:
            raise ConfigError(f"PostgreSQL refused the login: {exc}") from None
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(PostgresDatabase(url, pool), box, POSTGRES)

    async def reclaim_space(self, *, purged: bool = True, vacuum: bool = True) -> list[str]:
        """Stand in for autovacuum where it is off (on the server, or on a table): without
        VACUUM, the space of deleted and updated rows is never reused and the files grow with
        everything ever written, however much the purge deletes, and the indexes a claim
        walks fill with entries of rows long delivered. After every purge round (whether it
        `purged` or not: deliveries are updated all the time), each of this schema's tables
        with more dead rows than autovacuum's default threshold allows (50 and 20 % of its
        live rows) gets a plain `VACUUM (ANALYZE)`, which never blocks reads or writes; one
        process at a time per schema, on a connection of its own (VACUUM cannot run in a
        transaction). Where autovacuum runs, this finds nothing to do."""
        if not vacuum:
            return []
        conn: asyncpg.Connection = await asyncpg.connect(self.db.url)
        try:
            if not await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", VACUUM_LOCK):
                return []
            tables = [row[0] for row in await conn.fetch(_TABLES_TO_VACUUM)]
            for table in tables:
                await conn.execute(f"VACUUM (ANALYZE) {table}")
            return tables
        finally:
            await conn.close()  # and with it the session's advisory lock

    async def listen(self, callback: Callable[[], None]) -> StopListening:
        """Call `callback` on every NOTIFY a publish or requeue sends, from any process."""
        conn: asyncpg.Connection = await asyncpg.connect(self.db.url)

        def on_notify(*_: Any) -> None:
            callback()

        try:
            await conn.add_listener(await conn.fetchval(NOTIFY_CHANNEL_OF_SCHEMA), on_notify)
        except BaseException:
            conn.terminate()
            raise

        async def stop() -> None:
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

        return stop


def _database_name(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/") or "(default)"
