"""SQLite: the embedded default. One connection on one thread, WAL mode.

Every statement runs on a dedicated thread so the event loop never blocks on disk; an asyncio
lock keeps a transaction's statements together. The worker's claims and results run whole on
that thread, in one hand-off each (`in_transaction`), so the write lock is not held across
turns of the event loop. Several processes (a server and separate workers) can share the
file: `BEGIN IMMEDIATE` takes the write lock up front and a busy timeout waits for it, so a
claim is one atomic step.

Statements keep their `$n` placeholders: sqlite3 reads `$1` as a named parameter, so the
driver binds the arguments as `{"1": v1, "2": v2, ...}`. Nothing rewrites SQL text.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from ..errors import ConfigError, Conflict, StoreUnavailable
from ..secretbox import SecretBox
from .base import Row, StopListening
from .core import Connection, Guard, WriteStep
from .dialect import SQLITE
from .sql import SqlStore
from .transactions import OpenTransaction, committed

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")
PRIVATE_FILE = 0o600


def _named(args: Sequence[Any]) -> Mapping[str, Any]:
    """`$1`, `$2`, ... as sqlite3 binds them: named parameters "1", "2", ..."""
    return {str(i): value for i, value in enumerate(args, start=1)}


def _execute(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> None:
    conn.execute(sql, _named(args))


def _executemany(conn: sqlite3.Connection, sql: str,
                 named: Sequence[Mapping[str, Any]]) -> None:
    if named:
        conn.executemany(sql, named)


def _fetch(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Row]:
    return conn.execute(sql, _named(args)).fetchall()


def _fetchrow(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Row | None:
    return conn.execute(sql, _named(args)).fetchone()


class _SqliteConnection:
    """The connection as the event loop sees it: each statement one hand-off to the
    database thread."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> None:
        await self._db.run(lambda c: _execute(c, sql, args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        named = [_named(row) for row in rows]
        if named:
            await self._db.run(lambda c: _executemany(c, sql, named))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._db.run(lambda c: _fetch(c, sql, args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._db.run(lambda c: _fetchrow(c, sql, args))


class _OnThread:
    """The connection as a transaction body run on the database thread sees it
    (`SqliteDatabase.in_transaction`): each statement runs at once, so the body's awaits
    never suspend."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        _execute(self._conn, sql, args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        _executemany(self._conn, sql, [_named(row) for row in rows])

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return _fetch(self._conn, sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return _fetchrow(self._conn, sql, args)


class SqliteDatabase:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookline-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._held: OpenTransaction[_SqliteConnection] = OpenTransaction(
            f"hookline_sqlite_tx_{id(self)}")

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        # Effective only on a new file: lets retention return freed pages (store/history.py).
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
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
        joined = self._held.joined()
        if joined is not None:
            await self.run(lambda c: c.execute("SAVEPOINT nested"))
            try:
                yield joined
            except BaseException:
                await asyncio.shield(self.run(lambda c: c.execute("ROLLBACK TO nested")))
                raise
            finally:
                await asyncio.shield(self.run(lambda c: c.execute("RELEASE nested")))
            return
        async with self._lock:
            await self.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            conn = _SqliteConnection(self)
            with self._held.opened(conn) as waiting:
                try:
                    yield conn
                except BaseException:
                    await asyncio.shield(self.run(lambda c: c.execute("ROLLBACK")))
                    raise
            await self.run(lambda c: c.execute("COMMIT"))
        committed(waiting)

    async def write_atomically(self, steps: Sequence[WriteStep],
                               guard: Guard | None = None) -> bool:
        named = [(statement, [_named(row) for row in rows]) for statement, rows in steps]

        def write(conn: sqlite3.Connection) -> bool:
            if guard is not None:
                row = conn.execute(guard[0]).fetchone()
                if row is None or row[0] != guard[1]:
                    raise _NothingWritten
            for statement, rows in named:
                conn.executemany(statement, rows)
            return True

        # One hand-off to the database thread for the lot, not one per statement.
        try:
            if self._held.joined() is not None:
                return await self.run(lambda c: _atomically(
                    c, write, "SAVEPOINT nested", "RELEASE nested",
                    ("ROLLBACK TO nested", "RELEASE nested")))
            async with self._lock:
                return await self.run(lambda c: _atomically(
                    c, write, "BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",)))
        except _NothingWritten:
            return False

    async def in_transaction(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """`body(tx)` in one transaction, in one hand-off to the database thread: the body
        runs there to its end, its statements at once (`_OnThread`), so the write lock is
        held for the body's own time, not for a turn of the event loop per statement. The
        body must await nothing but its connection (no locks, no sleeps, no other store
        call: those need the event loop, which that thread has not got). A caller
        cancelled meanwhile does not stop it: like one statement, it commits or rolls back
        whole. Its statements' errors reach the caller as `run` maps them (`Conflict`,
        `StoreUnavailable`), not inside the body. Inside a transaction this task has open,
        it runs as a savepoint of it, on the loop."""
        if self._held.joined() is not None:
            async with self.transaction() as tx:
                return await body(tx)
        async with self._lock:
            return await self.run(lambda c: _atomically(
                c, lambda conn: _to_the_end(body(_OnThread(conn))), "BEGIN IMMEDIATE",
                "COMMIT", ("ROLLBACK",)))

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._held.after_commit(callback)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[_SqliteConnection]:
        joined = self._held.joined()
        if joined is not None:
            yield joined
            return
        async with self._lock:
            yield _SqliteConnection(self)

    async def close(self) -> None:
        if self._conn is not None:
            await self.run(lambda c: c.close())
            self._conn = None
        self._executor.shutdown(wait=True)


def _atomically(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T],
                begin: str, end: str, undo: tuple[str, ...]) -> T:
    """`work` between `begin` and `end`, on the database thread; `undo` if it raises."""
    conn.execute(begin)
    try:
        done = work(conn)
        conn.execute(end)
    except BaseException:
        for statement in undo:
            conn.execute(statement)
        raise
    return done


def _to_the_end(body: Coroutine[Any, Any, T]) -> T:
    """Run a transaction body's coroutine to its end, here and now: it awaits only
    statements that complete at once (`_OnThread`), so it never suspends; one that does
    awaited something else, and is a bug refused loudly."""
    try:
        body.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    body.close()
    raise RuntimeError("a transaction body run on SQLite's thread awaited something other "
                       "than its connection")


class _NothingWritten(Exception):
    """`work` found its guard moved: undo what the transaction began, write nothing."""


def create_private(path: Path) -> None:
    """Create the database file readable by its owner only (an existing one is left as it
    is). SQLite gives the -wal and -shm files it makes later the main file's permissions, so
    they are private too. A missing directory is refused, not made: it is most often a typo
    (`sqlite:////no/such/dir/x.db`), and a database quietly made there would look empty."""
    if not path.parent.is_dir():
        raise ConfigError(f"cannot create the SQLite database {str(path)!r}: its directory "
                          f"{str(path.parent)!r} does not exist")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass


async def _stop_nothing() -> None:
    pass


class SqliteStore(SqlStore):
    @classmethod
    async def connect(cls, url: str, box: SecretBox) -> SqliteStore:
        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute.db
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url[7:]
        if path not in ("", ":memory:"):
            create_private(Path(path))
        db = SqliteDatabase(path or ":memory:")
        await db.start()
        return cls(db, box, SQLITE)

    async def listen(self, callback: Callable[[], None]) -> StopListening:
        """SQLite cannot tell one process of another's writes: workers poll instead."""
        return _stop_nothing
