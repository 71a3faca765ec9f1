"""`SqliteStore`: de-duplication shared by every process on one machine, through one file."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager

from ._dedupe import DEFAULT_RETENTION

BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process's write lock before giving up."""

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SqliteStore:
    """Claims as rows keyed by event id; the primary key makes a claim one atomic statement.

    Each operation opens its own short connection, so one store object is safe to share between
    threads, and several processes may open the same file (WAL mode lets readers overlap writers).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: float = DEFAULT_RETENTION,
        table: str = "hookline_receiver_claims",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"invalid table name {table!r}")
        self.path = os.fspath(path)
        self.retention = retention
        self._clock = clock
        self._sql = _queries(table)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(self._sql["create"])
            db.execute(self._sql["purge"], (self._clock(),))

    def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._connect() as db:
            # Inserts a new row, or takes over one whose lease or retention ran out; a live row
            # is left alone and the statement changes nothing.
            changed = db.execute(self._sql["claim"], (key, now + ttl, now)).rowcount
        return changed == 1

    def complete(self, key: str) -> None:
        with self._connect() as db:
            db.execute(self._sql["complete"], (key, self._clock() + self.retention))

    def release(self, key: str) -> None:
        with self._connect() as db:
            db.execute(self._sql["release"], (key,))

    def is_done(self, key: str) -> bool:
        with self._connect() as db:
            row = db.execute(self._sql["is_done"], (key, self._clock())).fetchone()
        return row is not None

    def purge_expired(self) -> int:
        """Delete rows past their lease or retention (also done when the store is opened)."""
        with self._connect() as db:
            return db.execute(self._sql["purge"], (self._clock(),)).rowcount

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: every statement commits on its own, which is all we need.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        with closing(connection):
            yield connection


def _queries(table: str) -> dict[str, str]:
    return {
        "create": f"""
            CREATE TABLE IF NOT EXISTS {table} (
                key TEXT PRIMARY KEY,
                done INTEGER NOT NULL,
                expires_at REAL NOT NULL
            ) WITHOUT ROWID""",
        "claim": f"""
            INSERT INTO {table} (key, done, expires_at) VALUES (?1, 0, ?2)
            ON CONFLICT (key) DO UPDATE SET done = 0, expires_at = excluded.expires_at
            WHERE {table}.expires_at <= ?3""",
        "complete": f"""
            INSERT INTO {table} (key, done, expires_at) VALUES (?1, 1, ?2)
            ON CONFLICT (key) DO UPDATE SET done = 1, expires_at = excluded.expires_at""",
        "release": f"DELETE FROM {table} WHERE key = ?1 AND done = 0",
        "is_done": f"SELECT 1 FROM {table} WHERE key = ?1 AND done = 1 AND expires_at > ?2",
        "purge": f"DELETE FROM {table} WHERE expires_at <= ?1",
    }
