"""Self-healing endpoints, replays and pull feeds: the store's side (service/recovery.py and
service/feed.py hold the rules; they pass in which messages an endpoint wants)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from ..ids import MESSAGE, time_floor
from ..models import Attempt, AttemptTrigger, Endpoint, Message
from .core import Connection, StoreCore, delivery_id_for, message_from_row

# The id bound only lets the count use the index of an application's messages; the exact
# bound is `created_at`. Versions before 2026-12-03 made a message's id a moment before its
# `created_at` was read (a pause between the two, on a loaded machine, put them in different
# milliseconds), so for the messages they stored the id bound starts this much earlier.
ID_SLACK = 1.0

SCAN_BATCH = 500  # messages read per statement while looking for what an endpoint missed
FIRST_IDS = 10  # message ids a replay reports (a dry run's preview)

Wanted = Callable[[Message], bool]
"""Whether the endpoint should get a message (fan-out's rule), passed in by the service."""


@dataclass
class ReplayCount:
    """What a replay queued (or, dry, would queue): how many, and the first message ids."""

    count: int = 0
    first_ids: list[str] = field(default_factory=list)

    def add(self, message_id: str) -> None:
        self.count += 1
        if len(self.first_ids) < FIRST_IDS:
            self.first_ids.append(message_id)


@dataclass(frozen=True)
class DeliveredMessage:
    message: Message
    status: str  # the delivery's: pending, succeeded or failed
    leased: bool  # a worker holds it now (sending)
    last_status_code: int | None  # of its last finished attempt


@dataclass(frozen=True)
class ReplayWindow:
    """Messages created in [since, until] (until None: up to now) that one endpoint wants."""

    since: float
    until: float | None
    wanted: Wanted
    include_pending: bool = False  # also deliveries still queued (a disabled endpoint's)
    # The ordering key of each replayed delivery (None: the message's own)
    ordering_key: Callable[[Message], str | None] = lambda m: m.ordering_key
    trigger: AttemptTrigger = AttemptTrigger.MANUAL


class RecoveryQueries(StoreCore):
    """Probing disabled endpoints, re-enabling them, and replaying what they missed."""

    # -- probes --------------------------------------------------------------------------
    async def endpoints_to_probe(self, now: float, limit: int) -> list[Endpoint]:
        """Endpoints disabled by their failure rule whose probe is due or not scheduled yet."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.endpoints_to_probe, now, limit)
        return [self._endpoint(r) for r in rows]

    async def move_probe(self, endpoint_id: str, next_at: float | None, seen: float | None,
                         probes_made: int) -> bool:
        """Set the next probe (None: none) if the one scheduled is still `seen`: of two
        processes, the one that moves it probes."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(self.q.move_probe, endpoint_id, next_at,
                                    -1 if seen is None else seen, probes_made)
        return row is not None

    async def ensure_delivery(self, message: Message, endpoint_id: str, now: float) -> int:
        """The delivery of `message` to the endpoint, made if missing; its attempts so far."""
        delivery_id = delivery_id_for(message.id, endpoint_id)
        async with self.db.transaction() as tx:
            await tx.execute(self.q.ensure_delivery, delivery_id, message.id, endpoint_id,
                             message.app_id, now, message.ordering_key)
            row = await tx.fetchrow(self.q.delivery_attempt_count, delivery_id)
        return int(row["attempt_count"]) if row is not None else 0

    async def oldest_missed(self, endpoint: Endpoint, window: ReplayWindow) -> Message | None:
        async with self.db.connection() as conn:
            async for message in self._missed(conn, endpoint, window):
                return message
        return None

    async def enable_and_replay(self, endpoint: Endpoint, now: float,
                                window: ReplayWindow) -> ReplayCount | None:
        """Enable a disabled endpoint and queue everything it missed, in one transaction, so
        no worker sends a kept delivery before the replay is ordered. None: it was not
        disabled any more (another process healed it, or a person enabled it)."""
        async with self.db.transaction() as tx:
            if await tx.fetchrow(self.q.enable_endpoint, endpoint.id, now) is None:
                return None
            counted = await self._replay(tx, endpoint, window, now)
            await self._notify_due(tx)
        return counted

    async def count_missed(self, endpoint: Endpoint, since: float,
                           event_types: Sequence[str] | None,
                           channels: Sequence[str] | None) -> int:
        """How many messages since `since`, of those event type filters and channels (None:
        any), the endpoint never had delivered: counted by the database, none read."""
        d = self.dialect
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                self.q.count_missed, endpoint.app_id, endpoint.id,
                time_floor(MESSAGE, since - ID_SLACK), since,
                None if event_types is None else d.patterns_param(event_types),
                None if channels is None else d.list_param(channels))
        return int(row["n"]) if row is not None else 0

    async def failed_before(self, attempt: Attempt) -> bool:
        """Whether the message's previous attempt to the endpoint failed."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.failed_before, attempt.app_id, attempt.message_id,
                                      attempt.endpoint_id, attempt.id)
        return row is not None and bool(row["failed"])

    # -- replays -------------------------------------------------------------------------
    async def replay_missed(self, endpoint: Endpoint, window: ReplayWindow, now: float,
                            dry_run: bool = False) -> ReplayCount:
        """Queue (or only count) every message of the window the endpoint never got."""
        if dry_run:
            counted = ReplayCount()
            async with self.db.connection() as conn:
                async for message in self._missed(conn, endpoint, window):
                    counted.add(message.id)
            return counted
        async with self.db.transaction() as tx:
            counted = await self._replay(tx, endpoint, window, now)
            await self._notify_due(tx)
        return counted

    async def _replay(self, tx: Connection, endpoint: Endpoint, window: ReplayWindow,
                      now: float) -> ReplayCount:
        counted = ReplayCount()
        rows = []
        async for message in self._missed(tx, endpoint, window):
            counted.add(message.id)
            rows.append(self._replay_row(message, endpoint.id, window, now))
            if len(rows) >= SCAN_BATCH:
                await tx.executemany(self.q.replay_delivery, rows)
                rows = []
        if rows:
            await tx.executemany(self.q.replay_delivery, rows)
        return counted

    async def replay_messages(self, endpoint: Endpoint, messages: list[Message],
                              window: ReplayWindow, now: float) -> None:
        """Queue these messages to the endpoint again (a bulk replay's selection)."""
        async with self.db.transaction() as tx:
            await tx.executemany(self.q.replay_delivery, [
                self._replay_row(m, endpoint.id, window, now) for m in messages])
            await self._notify_due(tx)

    @staticmethod
    def _replay_row(message: Message, endpoint_id: str, window: ReplayWindow,
                    now: float) -> tuple[object, ...]:
        # created_at is the message's, so replayed deliveries sharing an ordering key go
        # in publish order (the claim orders a key's deliveries by created_at, then id).
        return (delivery_id_for(message.id, endpoint_id), message.id, endpoint_id,
                message.app_id, now, str(window.trigger), message.created_at,
                window.ordering_key(message))

    async def _missed(self, conn: Connection, endpoint: Endpoint,
                      window: ReplayWindow) -> AsyncIterator[Message]:
        after = ""
        while True:
            rows = await conn.fetch(self.q.undelivered_messages, endpoint.app_id, endpoint.id,
                                    window.since, after, window.until, window.include_pending,
                                    SCAN_BATCH)
            for row in rows:
                message = message_from_row(row)
                if window.wanted(message):
                    yield message
            if len(rows) < SCAN_BATCH:
                return
            after = rows[-1]["id"]

    async def delivered_messages(self, endpoint: Endpoint, since: float, until: float | None
                                 ) -> AsyncIterator[DeliveredMessage]:
        """Every message of [since, until] addressed to the endpoint, oldest first, with its
        delivery's state (a bulk replay filters these)."""
        after = ""
        async with self.db.connection() as conn:
            while True:
                rows = await conn.fetch(self.q.delivered_messages, endpoint.id, since, until,
                                        after, SCAN_BATCH)
                for row in rows:
                    yield DeliveredMessage(message_from_row(row), str(row["delivery_status"]),
                                           bool(row["delivery_leased"]),
                                           row["last_status_code"])
                if len(rows) < SCAN_BATCH:
                    return
                after = rows[-1]["id"]

    # -- pull feeds ----------------------------------------------------------------------
    async def feed_page(self, endpoint: Endpoint, after: str, limit: int,
                        wanted: Wanted | None) -> tuple[list[Message], str]:
        """Up to `limit` messages after id `after`, oldest first, and the id the next page
        starts after. A polling endpoint's feed is its application's messages it `wanted`;
        another endpoint's, what was addressed to it (`wanted` None)."""
        found: list[Message] = []
        position = after
        async with self.db.connection() as conn:
            while len(found) < limit:
                asked = SCAN_BATCH if wanted is not None else limit - len(found)
                if wanted is None:
                    rows = await conn.fetch(self.q.feed_of_endpoint, endpoint.id, position,
                                            asked)
                else:
                    rows = await conn.fetch(self.q.feed_of_app, endpoint.app_id, position,
                                            asked)
                for row in rows:
                    message = message_from_row(row)
                    position = message.id
                    if wanted is None or wanted(message):
                        found.append(message)
                        if len(found) >= limit:
                            break
                if len(rows) < asked:
                    break
        return found, position

    async def feed_position(self, endpoint_id: str, consumer_id: str) -> str | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_feed_position, endpoint_id, consumer_id)
        return None if row is None else str(row["position"])

    async def set_feed_position(self, endpoint: Endpoint, consumer_id: str, position: str,
                                now: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.set_feed_position, endpoint.id, consumer_id,
                             endpoint.app_id, position, now)
