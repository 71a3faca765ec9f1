"""Publishing: a message and its fan-out in one transaction; reading messages back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import Conflict, NotFound
from ..models import Attempt, Message
from .core import (
    IDEMPOTENCY_WINDOW,
    Connection,
    Page,
    PublishResult,
    StoreCore,
    Subscription,
    delivery_id_for,
    dump_json,
    load_json,
    make_page,
    message_from_row,
)

INSERT_MESSAGE = (
    "INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, created_at, "
    "ordering_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, attempt_count, "
    "next_attempt_at, trigger, created_at, ordering_key) "
    "VALUES ($1, $2, $3, $4, 'pending', 0, $5, 'scheduled', $5, $6)")


def message_rows(messages: Sequence[Message]) -> list[tuple[Any, ...]]:
    return [(m.id, m.app_id, m.event_type, m.event_id, dump_json(m.payload),
             dump_json(m.channels), m.created_at, m.ordering_key) for m in messages]


def delivery_rows(messages: Sequence[Message],
                  targets: dict[str, list[Subscription]]) -> list[tuple[Any, ...]]:
    return [(delivery_id_for(m.id, ep.id), m.id, ep.id, m.app_id, m.created_at,
             m.ordering_key) for m in messages for ep in targets[m.id]]


class MessageQueries(StoreCore):
    """Messages and their fan-out."""

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self,
        message: Message,
        idempotency_key: str | None,
        select: Callable[[Message, list[Subscription]], list[Subscription]] | None = None,
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
        select: Callable[[Message, list[Subscription]], list[Subscription]] | None = None,
        subscriptions: list[Subscription] | None = None,
    ) -> list[PublishResult]:
        """Store messages of one application and their deliveries in one transaction.

        Each message's idempotency key is claimed first; a key already held within the window
        (by an earlier request, or an earlier item of this batch) returns its message instead.
        `subscriptions`, when the caller holds the application's routing table, saves reading
        it; with no key either, the whole publish is one statement (one round trip).
        """
        if not drafts:
            return []
        app_id, now = drafts[0][0].app_id, drafts[0][0].created_at
        keyed = any(key is not None for _, key in drafts)
        if subscriptions is not None and not keyed:
            existing: dict[str, Message] = {}
            fresh = [m for m, _ in drafts]
            targets = {m.id: (select(m, subscriptions) if select else subscriptions)
                       for m in fresh}
            await self._write_published(fresh, targets)
        else:
            async with self.db.transaction() as tx:
                existing = await self._claim_message_keys(tx, app_id, drafts, now)
                fresh = [m for m, key in drafts if key is None or existing[key].id == m.id]
                if subscriptions is None and fresh:
                    subscriptions = await self._subscriptions(tx, app_id)
                targets = {m.id: (select(m, subscriptions or [])
                                  if select else subscriptions or []) for m in fresh}
                await self._insert_published(tx, fresh, targets)
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
        rows = await conn.fetch(
            "SELECT id, filter_types, channels, disabled FROM endpoints WHERE app_id = $1 "
            "ORDER BY id", app_id)
        return [Subscription(r["id"], load_json(r["filter_types"]), load_json(r["channels"]),
                             bool(r["disabled"])) for r in rows]

    async def _write_published(self, messages: Sequence[Message],
                               targets: dict[str, list[Subscription]]) -> None:
        """Store messages with their deliveries, atomically. The dialects make it one round
        trip (PostgreSQL) or one hand-off to the database thread (SQLite)."""
        async with self.db.transaction() as tx:
            await self._insert_published(tx, messages, targets)

    async def _insert_published(self, tx: Connection, messages: Sequence[Message],
                                targets: dict[str, list[Subscription]]) -> None:
        await tx.executemany(INSERT_MESSAGE, message_rows(messages))
        await tx.executemany(INSERT_DELIVERY, delivery_rows(messages, targets))

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
                "INSERT INTO idempotency_keys (app_id, key, message_id, created_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, key) DO UPDATE SET "
                "message_id = excluded.message_id, created_at = excluded.created_at "
                "WHERE idempotency_keys.created_at <= $5 RETURNING message_id",
                app_id, key, first[key].id, now, now - IDEMPOTENCY_WINDOW)
            if claimed is None:
                taken.append(key)
        existing = dict(first)
        # Each key not claimed now is held by a committed message (a fresh statement sees
        # what the concurrent claimer committed while we waited).
        for key in taken:
            row = await tx.fetchrow(
                "SELECT m.* FROM idempotency_keys k JOIN messages m ON m.id = k.message_id "
                "WHERE k.app_id = $1 AND k.key = $2", app_id, key)
            if row is None:
                raise Conflict(f"idempotency key {key!r} is held by a message that is gone")
            existing[key] = message_from_row(row)
        return existing

    async def get_message(self, app_id: str, key: str) -> Message:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM messages WHERE app_id = $1 AND (id = $2 OR event_id = $2) "
                "ORDER BY (id = $2) DESC LIMIT 1", app_id, key)
        if row is None:
            raise NotFound(f"message {key!r} not found")
        return message_from_row(row)

    async def list_messages(
        self,
        app_id: str,
        limit: int,
        iterator: str | None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
        channel: str | None = None,
    ) -> Page:
        types = self.list_param(event_types) if event_types else None
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM messages WHERE app_id = $1 AND ($2::text IS NULL OR id < $2) "
                f"AND ($3::text[] IS NULL OR event_type {self.any_of('$3')}) "
                "AND ($4::float8 IS NULL OR created_at < $4) "
                "AND ($5::float8 IS NULL OR created_at > $5) "
                "AND ($6::text IS NULL OR channels LIKE '%\"' || $6 || '\"%') "
                "ORDER BY id DESC LIMIT $7",
                app_id, iterator, types, before, after, channel, limit + 1)
        return make_page([message_from_row(r) for r in rows], limit, lambda m: m.id)

    # -- test sends ---------------------------------------------------------------------
    async def record_test_send(self, message: Message, attempt: Attempt) -> None:
        """Store a test send's message and its one attempt. No delivery row: nothing retries
        it, and `trigger = test` keeps it out of failure streaks and statistics."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                message.id, message.app_id, message.event_type, message.event_id,
                dump_json(message.payload), dump_json(message.channels), message.created_at)
            await tx.execute(
                "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
                "created_at, succeeded, trigger, status_code, response_body, duration_ms, "
                "error_kind, error_detail, request_headers, attempt_number) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                attempt.id, attempt.delivery_id, attempt.message_id, attempt.endpoint_id,
                attempt.app_id, attempt.url, attempt.created_at, attempt.succeeded,
                str(attempt.trigger), attempt.status_code, attempt.response_body,
                attempt.duration_ms, attempt.error_kind, attempt.error_detail,
                dump_json(attempt.request_headers), attempt.attempt_number)
