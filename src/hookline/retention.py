"""Retention: the purge that keeps the database bounded, run beside each delivery worker.

`Purger.run_once` walks expired history in small batches (store/history.py) until none is
left or its time slice is spent, yielding between batches so deliveries keep flowing. Several
processes may run a purger: one purges at a time (the store's lock), the others find the lock
taken and wait for their next round. docs/retention.md explains the two clocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from . import metrics
from .config import Settings
from .health import LAST_PURGE_KEY
from .store.base import PurgeCounts, Store

log = logging.getLogger(__name__)

DAY = 86_400.0
ROUND_SECONDS = 5.0  # one round stops after this long; the next continues
BATCH_PAUSE = 0.05  # seconds between batches, so a purge never monopolizes the database


def payload_life(settings: Settings, period_days: int | None,
                 period_hours: int | None) -> float | None:
    """Seconds a message's content may live when it asks for less than the default (Svix's
    `payloadRetentionPeriod` in days, `payloadRetentionHours`); None: the default clock."""
    asked = [value for value in (period_days and period_days * DAY,
                                 period_hours and period_hours * 3600.0) if value]
    if not asked or min(asked) >= settings.payload_retention_days * DAY:
        return None
    return float(min(asked))


class Purger:
    def __init__(self, store: Store, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def run_once(self, max_seconds: float = ROUND_SECONDS) -> PurgeCounts | None:
        """Purge what both clocks say is expired, batch by batch, for at most `max_seconds`;
        what it did, or None if another process holds the purge."""
        started = time.monotonic()
        total = PurgeCounts()
        batches = 0
        while True:
            now = self.clock()
            counts = await self.store.purge_batch(
                now, now - self.settings.retention_days * DAY,
                now - self.settings.payload_retention_days * DAY,
                self.settings.purge_batch_size)
            if counts is None:
                if batches == 0:
                    return None
                break
            batches += 1
            total.add(counts)
            if counts.total == 0 or time.monotonic() - started >= max_seconds:
                break
            await asyncio.sleep(BATCH_PAUSE)
        if total.total:
            metrics.count_purged(total.total)
            # Only a round that purged something is recorded: a meta write moves the
            # configuration version (migration 0012), so idle rounds leave it alone.
            await self.store.set_meta(LAST_PURGE_KEY,
                                      json.dumps({"at": self.clock(), "rows": total.total}))
            log.info("retention: %d messages expunged, %d attempts expunged, %d messages "
                     "deleted in %d batches (%.2f s)", total.messages_expunged,
                     total.attempts_expunged, total.messages_deleted, batches,
                     time.monotonic() - started)
        await self._reclaim(purged=bool(total.total))
        return total

    async def _reclaim(self, *, purged: bool) -> None:
        started = time.monotonic()
        vacuumed = await self.store.reclaim_space(purged=purged,
                                                  vacuum=self.settings.purge_vacuum)
        if vacuumed:
            log.info("retention: vacuumed %s, as autovacuum is off (%.2f s)",
                     ", ".join(vacuumed), time.monotonic() - started)

    async def run(self, stopping: asyncio.Event) -> None:
        """A round every `purge_interval` seconds until `stopping` is set; a failing round is
        logged and retried at the next."""
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # retention must never take the worker down
                log.exception("retention: purge round failed; retrying in %.0f s",
                              self.settings.purge_interval)
            try:
                await asyncio.wait_for(stopping.wait(), self.settings.purge_interval)
            except TimeoutError:
                pass
