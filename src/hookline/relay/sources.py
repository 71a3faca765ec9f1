"""Where the relay reads outbox rows: the application's PostgreSQL or SQLite database.

A source is one connection that the relay uses alone. On PostgreSQL that connection holds the
advisory lock that makes its relay the leader (the others stand by, and one takes over as soon
as the leader's connection drops, a SIGKILL included) and LISTENs for the table's NOTIFY. On
SQLite a lock file next to the database plays the leader's part, and the relay polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ..outbox import _schema as sql
from .rows import Backlog, OutboxRow, SourceUnavailable

CONNECT_TIMEOUT = 10.0


class OutboxSource(Protocol):
    name: str  # the URL without its password, for logs and metrics

    async def open(self) -> None: ...
    async def lead(self) -> bool:
        """Whether this relay may move rows now (it is, or has just become, the leader)."""
        ...
    async def read(self, limit: int) -> list[OutboxRow]: ...
    async def settle(self, relayed: Sequence[int], refused: Sequence[tuple[int, str]]) -> None:
        """Delete the rows Hookline holds; mark those it refused for good with why."""
        ...
    async def wait_for_rows(self, seconds: float) -> None:
        """Return when rows may have arrived (NOTIFY), or after `seconds` at most."""
        ...
    async def backlog(self) -> Backlog: ...
    async def close(self) -> None: ...


def redact(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_source(url: str) -> OutboxSource:
    """A source for `postgresql://...` or `sqlite:///path`."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        return PostgresSource(url)
    if scheme == "sqlite":
        return SqliteSource(url)
    raise SourceUnavailable(f"outbox source {redact(url)!r}: use postgresql://... or "
                            "sqlite:///path")


class PostgresSource:
    def __init__(self, url: str) -> None:
        self.url = url
        self.name = redact(url)
        self._conn: Any = None
        self._leading = False
        self._notified = asyncio.Event()

    async def open(self) -> None:
        self._leading = False
        try:
            # A delete lost in a crash only sends its rows again, under the same keys, so
            # the relay's commits need not wait for the disk.
            self._conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT,
                                               server_settings={"synchronous_commit": "off"})
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise SourceUnavailable(f"{self.name}: {exc}") from exc

    async def lead(self) -> bool:
        if not self._leading:
            self._leading = bool(await self._run(self._conn.fetchval, sql.PG_TRY_LEAD))
            if self._leading:  # only the leader needs waking
                await self._run(self._conn.add_listener, sql.NOTIFY_CHANNEL, self._wake)
        return self._leading

    def _wake(self, *_: Any) -> None:
        self._notified.set()

    async def read(self, limit: int) -> list[OutboxRow]:
        self._notified.clear()  # rows committed from now on wake the next wait
        records = await self._run(self._conn.fetch, sql.PG_READ, limit)
        return [OutboxRow.of(r) for r in records]

    async def settle(self, relayed: Sequence[int], refused: Sequence[tuple[int, str]]) -> None:
        if relayed:
            await self._run(self._conn.execute, sql.PG_DELETE, list(relayed))
        if refused:
            await self._run(self._conn.execute, sql.PG_REFUSE, [s for s, _ in refused],
                            [e for _, e in refused])

    async def wait_for_rows(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._notified.wait(), seconds)

    async def backlog(self) -> Backlog:
        pending, age, refused = await self._run(self._conn.fetchrow, sql.PG_BACKLOG)
        return Backlog(int(pending or 0), float(age or 0.0), int(refused or 0))

    async def close(self) -> None:
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)
            if not conn.is_closed():
                conn.terminate()

    async def _run(self, call: Any, *args: Any) -> Any:
        if self._conn is None:
            raise SourceUnavailable(f"{self.name}: not connected")
        try:
            return await call(*args)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise SourceUnavailable(f"{self.name}: {exc}") from exc


class SqliteSource:
    """SQLite has no NOTIFY: the relay polls. Calls run in a thread, one at a time."""

    def __init__(self, url: str) -> None:
        # SQLAlchemy's convention, as Hookline's own store: sqlite:///relative, sqlite:////absolute
        self.path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url[7:]
        self.name = url
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=CONNECT_TIMEOUT)
            conn.execute("PRAGMA busy_timeout = 10000")
            return conn

        try:
            self._conn = await asyncio.to_thread(connect)
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"{self.name}: {exc}") from exc

    async def lead(self) -> bool:
        if self._lock_fd is None:
            fd = os.open(self.path + ".relay-lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._lock_fd = fd
        return True

    async def read(self, limit: int) -> list[OutboxRow]:
        records = await self._run(lambda c: c.execute(sql.SQLITE_READ, (limit,)).fetchall())
        return [OutboxRow.of(r) for r in records]

    async def settle(self, relayed: Sequence[int], refused: Sequence[tuple[int, str]]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if relayed:
                    conn.execute(sql.SQLITE_DELETE, (json.dumps(list(relayed)),))
                conn.executemany(sql.SQLITE_REFUSE, [(e, s) for s, e in refused])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        await self._run(write)

    async def wait_for_rows(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def backlog(self) -> Backlog:
        pending, age, refused = await self._run(
            lambda c: c.execute(sql.SQLITE_BACKLOG).fetchone())
        return Backlog(int(pending or 0), float(age or 0.0), int(refused or 0))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(conn.close)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    async def _run(self, work: Any) -> Any:
        conn = self._conn
        if conn is None:
            raise SourceUnavailable(f"{self.name}: not open")
        try:
            return await asyncio.to_thread(work, conn)
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"{self.name}: {exc}") from exc
