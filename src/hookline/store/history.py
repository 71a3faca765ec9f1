"""Retention and content expunge: what keeps the database bounded (docs/retention.md).

Two clocks. Past the *content* clock (`payload_retention_days`, or a message's own shorter
life), a message's payload and its attempts' request headers and response bodies are erased
and the rows read back as expunged. Past the *history* clock (`retention_days`), messages are
deleted with their deliveries and attempts. Neither clock touches a message that still has a
pending delivery: a retrying delivery is never purged under its worker.

A purge is a sequence of small transactions (`purge_batch`), each bounded by a row limit and,
on PostgreSQL, a lock timeout, and taken by one process at a time (an advisory lock; SQLite's
write lock already serializes). Every step is idempotent: a batch interrupted half-way leaves
rows a later batch finishes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .core import Connection, Row, StoreCore

ROLLUP_HOUR = 3600.0


@dataclass
class PurgeCounts:
    """What one purge batch did."""

    messages_expunged: int = 0
    attempts_expunged: int = 0
    messages_deleted: int = 0

    @property
    def total(self) -> int:
        return self.messages_expunged + self.attempts_expunged + self.messages_deleted

    def add(self, other: PurgeCounts) -> None:
        self.messages_expunged += other.messages_expunged
        self.attempts_expunged += other.attempts_expunged
        self.messages_deleted += other.messages_deleted


def _by_app(rows: Sequence[Row]) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        ids[row["app_id"]].append(row["id"])
    return ids


class HistoryQueries(StoreCore):
    """Ageing history out, and erasing content on request."""

    # -- retention -----------------------------------------------------------------------
    async def purge_batch(self, now: float, history_before: float, content_before: float,
                          limit: int) -> PurgeCounts | None:
        """One bounded step of retention: at most `limit` messages deleted with their
        deliveries and attempts (first, so nothing is erased just before it goes), `limit`
        messages expunged by each content clock, `limit` attempts' content erased. None
        when another process is purging right now."""
        counts = PurgeCounts()
        async with self.db.transaction() as tx:
            for statement in self.dialect.purge_guard:
                row = await tx.fetchrow(statement)
                if row is not None and not row[0]:
                    return None
            expired = await tx.fetch(self.q.expired_messages, history_before, limit)
            for app_id, message_ids in _by_app(expired).items():
                for statement in self.q.delete_history_of:
                    await tx.execute(statement, app_id, self.dialect.list_param(message_ids))
            counts.messages_deleted += len(expired)
            for rows in (await tx.fetch(self.q.expire_content_by_age, now, content_before,
                                        limit),
                         await tx.fetch(self.q.expire_content_by_message, now, limit)):
                counts.messages_expunged += len(rows)
                await self._expunge_attempts_of(tx, rows)
            counts.attempts_expunged += len(
                await tx.fetch(self.q.expire_attempt_content, content_before, limit))
            await tx.execute(self.q.expire_idempotency_keys, history_before, limit)
            for statement in self.q.expire_rollups:
                await tx.execute(statement, int(history_before // ROLLUP_HOUR))
        return counts

    async def reclaim_space(self, *, purged: bool = True, vacuum: bool = True) -> list[str]:
        """Hand pages a purge freed back to the file system, a little at a time, where the
        database needs telling (SQLite's incremental vacuum); PostgreSQL's store has its
        own."""
        if purged and self.dialect.reclaim_space:
            async with self.db.connection() as conn:
                await conn.execute(self.dialect.reclaim_space)
        return []

    async def _expunge_attempts_of(self, tx: Connection, messages: Sequence[Row]) -> None:
        for app_id, message_ids in _by_app(messages).items():
            await tx.execute(self.q.expunge_attempts_of, app_id,
                             self.dialect.list_param(message_ids))

    async def set_payload_expiry(self, app_id: str, message_id: str, at: float) -> None:
        """The message's own content clock (Svix's `payloadRetentionPeriod`/`Hours`)."""
        async with self.db.transaction() as tx:
            await tx.execute(self.q.set_payload_expiry, app_id, message_id, at)

    # -- expunge on request --------------------------------------------------------------
    async def expunge_message(self, app_id: str, key: str, now: float) -> str | None:
        """Erase a message's content (by id or event id) and its attempts'; the message id,
        or None if there is no such message."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(self.q.expunge_message, app_id, key, now)
            if row is None:
                return None
            await tx.execute(self.q.expunge_attempts_of, app_id,
                             self.dialect.list_param([row["id"]]))
        return str(row["id"])

    async def expunge_attempt(self, app_id: str, message_id: str, attempt_id: str) -> bool:
        """Erase one attempt's request headers and response body; whether it exists."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(self.q.expunge_attempt, app_id, message_id, attempt_id)
        return row is not None

    async def expunge_app_batch(self, app_id: str, now: float, limit: int) -> int:
        """Erase the content of up to `limit` messages and `limit` attempts of the
        application not erased yet; returns how many rows changed (0: all done)."""
        async with self.db.transaction() as tx:
            messages = await tx.fetch(self.q.expunge_app_batch, now, app_id, limit)
            attempts = await tx.fetch(self.q.expunge_app_attempts_batch, app_id, limit)
        return len(messages) + len(attempts)
