"""SQLite: the embedded default. One connection on one thread, WAL mode.

Every statement runs on a dedicated thread so the event loop never blocks on disk; an asyncio
lock keeps a transaction's statements together. Several processes (a server and separate
workers) can share the file: `BEGIN IMMEDIATE` takes the write lock up front and a busy timeout
waits for it, so a claim is one atomic step.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Conflict, StoreUnavailable
from ..secretbox import SecretBox
from .base import Claim, Row, Store, new_lease_id

_PLACEHOLDER = re.compile(r"\$(\d+)")
_CAST = re.compile(r"::[a-z0-9_]+(\[\])?")  # PostgreSQL type hints; SQLite needs none
BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def _translate(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", _CAST.sub("", sql))


class _SqliteConnection:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> None:
        await self._db.run(lambda c: c.execute(_translate(sql), args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self._db.run(lambda c: c.executemany(_translate(sql), rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._db.run(lambda c: c.execute(_translate(sql), args).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._db.run(lambda c: c.execute(_translate(sql), args).fetchone())


class SqliteDatabase:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookline-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        # The transaction this task has open, which nested store calls join (one
        # idempotent request is one transaction, whatever it writes).
        # A task started inside it does not join it (the pair holds the task).
        self._joined: ContextVar[tuple[object, _SqliteConnection] | None] = ContextVar(
            f"hookline_sqlite_tx_{id(self)}", default=None)

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._conn is not None
            try:
                return work(self._conn)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"conflicts with an existing record ({exc})") from None
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreUnavailable("the database is busy; try again") from exc
                raise

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteConnection]:
        """A transaction; inside one (in this task), a savepoint of the one already open."""
        joined = self._joined.get()
        if joined is not None and joined[0] is asyncio.current_task():
            await self.run(lambda c: c.execute("SAVEPOINT nested"))
            try:
                yield joined[1]
            except BaseException:
                await asyncio.shield(self.run(lambda c: c.execute("ROLLBACK TO nested")))
                raise
            finally:
                await asyncio.shield(self.run(lambda c: c.execute("RELEASE nested")))
            return
        async with self._lock:
            conn = _SqliteConnection(self)
            await self.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            token = self._joined.set((asyncio.current_task(), conn))
            try:
                yield conn
            except BaseException:
                await asyncio.shield(self.run(lambda c: c.execute("ROLLBACK")))
                raise
            finally:
                self._joined.reset(token)
            await self.run(lambda c: c.execute("COMMIT"))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[_SqliteConnection]:
        joined = self._joined.get()
        if joined is not None and joined[0] is asyncio.current_task():
            yield joined[1]
            return
        async with self._lock:
            yield _SqliteConnection(self)

    async def close(self) -> None:
        if self._conn is not None:
            await self.run(lambda c: c.close())
            self._conn = None
        self._executor.shutdown(wait=True)


def create_private(path: Path) -> None:
    """Create the database file, and its directory, readable by their owner only (an existing
    one is left as it is). SQLite gives the -wal and -shm files it makes later the main
    file's permissions, so they are private too."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass


class SqliteStore(Store):
    dialect = "sqlite"

    @classmethod
    async def connect(cls, url: str, box: SecretBox) -> SqliteStore:
        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute.db
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url[7:]
        if path not in ("", ":memory:"):
            create_private(Path(path))
        db = SqliteDatabase(path or ":memory:")
        await db.start()
        return cls(db, box)

    def any_of(self, placeholder: str) -> str:
        return f"IN (SELECT value FROM json_each({placeholder}))"

    def list_param(self, values: Sequence[str]) -> Any:
        return json.dumps(list(values))

    async def claim_due_deliveries(
        self, owner: str, limit: int, now: float, lease: float,
        exclude_endpoints: Sequence[str] = (), room: Mapping[str, int] | None = None,
        default_room: int | None = None,
    ) -> list[Claim]:
        lease_id = new_lease_id()
        within_room = self.WITHIN_ROOM_SQL.format(room="json_each($7)")
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "WITH due AS (SELECT d.id, d.endpoint_id, d.next_attempt_at "
                f"{self.due_deliveries_sql()}) "
                "UPDATE deliveries SET next_attempt_at = $1 + $3, lease_owner = $4, "
                "lease_id = $5, attempt_count = attempt_count + 1 "
                f"WHERE id IN ({within_room}) "
                "RETURNING id, message_id, endpoint_id, attempt_count, trigger",
                now, limit, lease, owner, lease_id, self.list_param(exclude_endpoints),
                self.room_param(room or {}), default_room or limit)
            return await self._load_claims(tx, rows, lease_id, owner, now)
