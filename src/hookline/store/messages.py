"""Publishing: a message and its fan-out in one transaction; reading messages back.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from ..errors import Conflict, NotFound, StaleConfiguration
from ..models import Attempt, Message
from .core import (
    IDEMPOTENCY_WINDOW,
    Connection,
    Page,
    PublishResult,
    Select,
    StoreCore,
    Subscription,
    Window,
    WriteStep,
    as_window,
    attempt_values,
    delivery_id_for,
    dump_json,
    load_json,
    message_from_row,
    message_values,
    window_page,
)

Targets = dict[str, list[Subscription]]  # message id -> the endpoints that get it


def fanout_columns(messages: Sequence[Message], deliveries: Sequence[tuple[Any, ...]],
                   payload_texts: Mapping[str, str]) -> tuple[Any, ...]:
    """`publish_fanout`'s parameters: the application id, then each column of the message
    rows (app_id, the same in every row, left out) and the deliveries' id, message and
    endpoint as arrays."""
    m_columns = [list(c) for c in zip(*(message_values(m, payload_texts.get(m.id))
                                        for m in messages), strict=True)]
    d_columns = [[d[0] for d in deliveries], [d[1] for d in deliveries],
                 [d[2] for d in deliveries]]
    return (messages[0].app_id, *m_columns[:1], *m_columns[2:], *d_columns)


class MessageQueries(StoreCore):
    """Messages and their fan-out."""

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self,
        message: Message,
        idempotency_key: str | None,
        select: Select | None = None,
    ) -> PublishResult:
        """Store a message and its deliveries in one transaction.

        `select` picks the endpoints that get it (filters and channels are core logic). With an
        idempotency key seen in the last 24 h, nothing is written and the first message returns.
        """
        results = await self.publish_batch([(message, idempotency_key)], select)
        return results[0]

    async def publish_batch(
        self,
        drafts: Sequence[tuple[Message, str | None]],
        select: Select | None = None,
        subscriptions: list[Subscription] | None = None,
        expected_version: int | None = None,
        payload_texts: Mapping[str, str] | None = None,
    ) -> list[PublishResult]:
        """Store messages of one application and their deliveries in one transaction.

        Each message's idempotency key is claimed first; a key already held within the window
        (by an earlier request, or an earlier item of this batch) returns its message instead.
        `subscriptions`, the application's routing table when the caller holds it, saves
        reading it; with no key either, the write is one step (one statement, or one hand-off
        to SQLite's thread). `expected_version`: the configuration version the caller's
        checks assumed; if it moved, nothing is written and `StaleConfiguration` is raised.
        `payload_texts`: message id -> its payload already encoded as stored.
        """
        texts = payload_texts or {}
        if not drafts:
            return []
        app_id, now = drafts[0][0].app_id, drafts[0][0].created_at

        def route(fresh: list[Message], table: list[Subscription]) -> Targets:
            return {m.id: (select(m, table) if select else table) for m in fresh}

        existing: dict[str, Message] = {}
        if subscriptions is not None and all(key is None for _, key in drafts):
            fresh = [m for m, _ in drafts]
            targets = route(fresh, subscriptions)
            if not await self._write_published(fresh, targets, expected_version, texts):
                raise StaleConfiguration()
        else:
            async with self.db.transaction() as tx:
                if expected_version is not None:
                    row = await tx.fetchrow(self.q.config_version)
                    if row is None or row["version"] != expected_version:
                        raise StaleConfiguration()
                existing = await self._claim_message_keys(tx, app_id, drafts, now)
                fresh = [m for m, key in drafts if key is None or existing[key].id == m.id]
                if subscriptions is None and fresh:
                    subscriptions = await self._subscriptions(tx, app_id)
                targets = route(fresh, subscriptions or [])
                await self._write_published(fresh, targets, None, texts, tx)
        if any(targets.values()):
            self._announce_due()
        results = []
        for m, key in drafts:
            first = existing[key] if key is not None else m
            if first.id == m.id:
                results.append(PublishResult(m, created=True,
                                             endpoint_ids=[ep.id for ep in targets[m.id]]))
            else:
                results.append(PublishResult(first, created=False))
        return results

    async def list_subscriptions(self, app_id: str) -> list[Subscription]:
        """The application's routing table: what fan-out needs of each endpoint, no secrets."""
        async with self.db.connection() as conn:
            return await self._subscriptions(conn, app_id)

    async def _subscriptions(self, conn: Connection, app_id: str) -> list[Subscription]:
        rows = await conn.fetch(self.q.subscriptions, app_id)
        return [Subscription(r["id"], load_json(r["filter_types"]), load_json(r["channels"]),
                             bool(r["disabled"])) for r in rows]

    async def _write_published(self, messages: list[Message], targets: Targets,
                               expected_version: int | None, texts: Mapping[str, str],
                               tx: Connection | None = None) -> bool:
        """Store `messages` and their deliveries at once (in `tx`, if given), if the
        configuration version is still `expected_version` (None: whatever it is)."""
        if not messages:
            return True
        deliveries = [(delivery_id_for(m.id, ep.id), m.id, ep.id, m.app_id, m.created_at,
                       m.ordering_key) for m in messages for ep in targets[m.id]]
        extras = [m for m in messages
                  if m.tags is not None or m.deliver_at is not None or m.traceparent]
        if self.q.publish_fanout and not extras:  # one statement, its own transaction
            async with (self.db.connection() if tx is None else nullcontext(tx)) as conn:
                row = await conn.fetchrow(self.q.publish_fanout,
                                          *fanout_columns(messages, deliveries, texts),
                                          expected_version)
            return row is not None and bool(row["written"])
        steps: list[WriteStep] = [
            (self.q.insert_message, [message_values(m, texts.get(m.id)) for m in messages]),
            (self.q.insert_delivery, deliveries),
            (self.q.set_message_extras,
             [(m.id, dump_json(m.tags), m.deliver_at, m.traceparent) for m in extras]),
            (self.q.hold_deliveries_until,
             [(m.id, m.deliver_at) for m in extras if m.deliver_at is not None])]
        if tx is not None:
            for statement, rows in steps:
                await tx.executemany(statement, rows)
            return True
        guard = None if expected_version is None else (self.q.config_version, expected_version)
        return await self.db.write_atomically(steps, guard)

    async def _claim_message_keys(
        self, tx: Connection, app_id: str, drafts: Sequence[tuple[Message, str | None]],
        now: float,
    ) -> dict[str, Message]:
        """Claim each key for its first message, as the transaction's first writes; returns,
        per key, the message that holds it (an earlier one, or the one that claimed it now).

        `INSERT ... ON CONFLICT` decides: on PostgreSQL it waits for a concurrent claimer to
        finish, then takes the key only if that one rolled back or the key has expired. Keys
        are claimed in sorted order, so two batches sharing keys cannot deadlock.
        """
        first: dict[str, Message] = {}
        for message, key in drafts:
            if key is not None:
                first.setdefault(key, message)
        taken: list[str] = []
        for key in sorted(first):
            claimed = await tx.fetchrow(
                self.q.claim_message_key, app_id, key, first[key].id, now, now - IDEMPOTENCY_WINDOW)
            if claimed is None:
                taken.append(key)
        existing = dict(first)
        # Each key not claimed now is held by a committed message (a fresh statement sees
        # what the concurrent claimer committed while we waited).
        for key in taken:
            row = await tx.fetchrow(self.q.message_holding_key, app_id, key)
            if row is None:
                raise Conflict(f"idempotency key {key!r} is held by a message that is gone")
            existing[key] = message_from_row(row)
        return existing

    async def get_message(self, app_id: str, key: str) -> Message:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_message, app_id, key)
        if row is None:
            raise NotFound(f"message {key!r} not found")
        return message_from_row(row)

    async def list_messages(
        self,
        app_id: str,
        limit: int,
        iterator: str | Window | None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
        channel: str | None = None,
        tag: str | None = None,
    ) -> Page:
        types = self.dialect.list_param(event_types) if event_types else None
        window = as_window(iterator, ascending=False)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                self.q.list_messages[window.reads_ascending], app_id, window.before, types,
                before, after, channel, limit + 1, tag, window.after)
        return window_page([message_from_row(r) for r in rows], limit, lambda m: m.id, window)

    # -- test sends ---------------------------------------------------------------------
    async def record_test_send(self, message: Message, attempt: Attempt) -> None:
        """Store a test send's message and its one attempt. No delivery row: nothing retries
        it, and `trigger = test` keeps it out of failure streaks and statistics."""
        async with self.db.transaction() as tx:
            await tx.execute(self.q.insert_message, *message_values(message))
            await tx.execute(self.q.insert_attempt, *attempt_values(attempt))
