"""Run a webhook handler at most once per event id, even when duplicates race each other.

Senders deliver at least once, so the same event can arrive twice, sometimes at the same
moment. An event id moves through three states in a store: free -> in progress (claimed, with a
lease) -> done (kept for the store's retention). A handler that raises frees the id again so the
sender's retry can run it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

DEFAULT_LEASE = 300.0
"""Seconds an in-progress claim holds. If the process dies mid-handler the id becomes free again
after this long; it must exceed your slowest handler, or a duplicate could run alongside it."""

DEFAULT_RETENTION = 7 * 24 * 3600.0
"""Seconds a done id is remembered: a week outlasts Hookline's default retry schedule (8 attempts
over about 28 hours) with room for a manual replay. Raise it for longer custom schedules."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where claims live. Each method is one atomic step in the backing store."""

    def claim(self, key: str, ttl: float) -> bool:
        """Take `key` for `ttl` seconds; False if it is in progress elsewhere or already done."""
        ...

    def complete(self, key: str) -> None:
        """Mark `key` done; duplicates are refused for the store's retention period."""
        ...

    def release(self, key: str) -> None:
        """Free an in-progress `key` (never a done one) so a retry can run the handler."""
        ...

    def is_done(self, key: str) -> bool:
        """Whether `key` completed, to tell a finished duplicate from one still running."""
        ...


class ClaimResult(enum.Enum):
    """What taking an event id gave: it is ours to run, or somebody's already."""

    CLAIMED = "claimed"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"


class OnceStatus(enum.Enum):
    """What `run_once` did with a delivery."""

    RAN = "ran"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class OnceOutcome(Generic[T]):
    """The status, and the handler's return value when it ran."""

    status: OnceStatus
    value: T | None = None

    @property
    def ran(self) -> bool:
        return self.status is OnceStatus.RAN


_SKIPPED = {
    ClaimResult.DUPLICATE: OnceStatus.DUPLICATE,
    ClaimResult.IN_PROGRESS: OnceStatus.IN_PROGRESS,
}


class IdempotentConsumer:
    """De-duplicates deliveries by event id over an `IdempotencyStore`.

    `namespace` prefixes every key so several consumers (say, two handlers of the same events)
    can share one store without stealing each other's ids.
    """

    def __init__(
        self, store: IdempotencyStore, *, lease: float = DEFAULT_LEASE, namespace: str = ""
    ) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.store = store
        self.lease = lease
        self.namespace = namespace

    def key(self, event_id: str) -> str:
        if not isinstance(event_id, str) or not event_id:
            raise ValueError(f"event id must be a non-empty string, not {event_id!r}")
        return self.namespace + event_id

    def claim(self, event_id: str) -> ClaimResult:
        key = self.key(event_id)
        if self.store.claim(key, self.lease):
            return ClaimResult.CLAIMED
        # A claim that was released between these two calls reads as in progress: the sender's
        # retry will then find the id free, which is the safe side to err on.
        return ClaimResult.DUPLICATE if self.store.is_done(key) else ClaimResult.IN_PROGRESS

    def complete(self, event_id: str) -> None:
        self.store.complete(self.key(event_id))

    def release(self, event_id: str) -> None:
        self.store.release(self.key(event_id))

    async def aclaim(self, event_id: str) -> ClaimResult:
        # Stores are synchronous (SQLite, redis-py); keep their I/O off the event loop.
        return await asyncio.to_thread(self.claim, event_id)

    async def acomplete(self, event_id: str) -> None:
        await asyncio.to_thread(self.complete, event_id)

    async def arelease(self, event_id: str) -> None:
        await asyncio.to_thread(self.release, event_id)

    def run_once(self, event_id: str, handler: Callable[[], T]) -> OnceOutcome[T]:
        """Call `handler()` unless this event id already ran or is running right now.

        If the handler raises, the id is released and the exception propagates.
        """
        claim = self.claim(event_id)
        if claim is not ClaimResult.CLAIMED:
            return OnceOutcome(_SKIPPED[claim])
        try:
            value = handler()
        except BaseException:
            self.release(event_id)
            raise
        self.complete(event_id)
        return OnceOutcome(OnceStatus.RAN, value)

    async def arun_once(
        self, event_id: str, handler: Callable[[], Awaitable[T]]
    ) -> OnceOutcome[T]:
        """`run_once` for a coroutine handler; a cancelled handler releases its id too."""
        claim = await self.aclaim(event_id)
        if claim is not ClaimResult.CLAIMED:
            return OnceOutcome(_SKIPPED[claim])
        try:
            value = await handler()
        except BaseException:
            await asyncio.shield(self.arelease(event_id))
            raise
        await self.acomplete(event_id)
        return OnceOutcome(OnceStatus.RAN, value)
