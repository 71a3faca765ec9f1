"""The relay: committed outbox rows into Hookline, each exactly once, per-key order kept.

One cycle reads the oldest rows (by `seq`), sends them, then deletes those Hookline answered
for. A relay killed between the send and the delete sends them again under the same
idempotency keys, and Hookline answers with the messages it already holds: nothing twice.
Rows are split into lanes by ordering key, sent concurrently lane by lane; inside a lane,
batches go one after the other and a lane stops at its first failure, so a key's rows reach
Hookline in the order they were written.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .. import metrics
from ..errors import HooklineError
from .rows import ACCEPTED, OutboxRow, SinkUnavailable, SourceUnavailable
from .sinks import Sink
from .sources import OutboxSource

log = logging.getLogger(__name__)

READ_LIMIT = 1000  # rows per cycle
BATCH = 100  # rows per publish: the batch route's limit
# Publishes in flight per cycle. A relay inside `serve`/`worker` shares the store's pool of
# ten connections with the API and the delivery worker, so it keeps to four; `hookline relay`
# has the pool (or the API) to itself, and more lanes overlap more of the waiting on the
# databases (direct drains on the loaded machine, events/s: 4 lanes 1,013-1,268, 8 lanes
# 1,200-1,526, 10 lanes 1,334-1,518; bench/RESULTS.md, "Outbox").
LANES = 4
STANDALONE_LANES = 8
RETRY_DELAY = 1.0  # seconds before trying again after Hookline or the source failed
MAX_RETRY_DELAY = 30.0


@dataclass(frozen=True)
class RelayStats:
    """What /metrics and `hookline status` show of one relay."""

    source: str
    leader: bool = False
    rows_relayed: int = 0  # rows Hookline took, since this relay started
    rows_refused: int = 0  # rows Hookline refused for good (kept in the outbox, marked)
    lag_seconds: float = 0.0  # age of the oldest unrelayed row at the last read (leader only)
    last_error: str | None = None


class OutboxRelay:
    def __init__(self, source: OutboxSource, sink: Sink, *, poll_interval: float = 1.0,
                 lanes: int = LANES) -> None:
        self.source = source
        self.sink = sink
        self.poll_interval = poll_interval
        self.lanes = lanes
        self._stats = RelayStats(source.name)
        self._stopping = asyncio.Event()

    def stats(self) -> RelayStats:
        return self._stats

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Relay until `stop()`: reconnect to the source and retry Hookline by themselves."""
        delay = RETRY_DELAY
        while not self._stopping.is_set():
            try:
                await self.source.open()
                log.info("outbox relay reading %s", self.source.name)
                await self._relay_while_connected()
                delay = RETRY_DELAY
            except SourceUnavailable as exc:
                self._stats = replace(self._stats, leader=False, last_error=exc.detail)
                log.warning("outbox relay %s: %s; again in %.0f s", self.source.name,
                            exc.detail, delay)
                await self._pause(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
            finally:
                await self.source.close()
        await self.sink.close()

    async def _relay_while_connected(self) -> None:
        hookline_delay = RETRY_DELAY
        while not self._stopping.is_set():
            if not await self.source.lead():
                self._stats = replace(self._stats, leader=False, lag_seconds=0.0)
                await self._pause(self.poll_interval)
                continue
            if not self._stats.leader:
                log.info("outbox relay %s is the leader", self.source.name)
                self._stats = replace(self._stats, leader=True)
            try:
                moved = await self.relay_once()
            except SinkUnavailable as exc:  # the rows wait in the outbox; the lead is kept
                self._stats = replace(self._stats, last_error=exc.detail)
                log.warning("outbox relay %s: %s; again in %.0f s", self.source.name,
                            exc.detail, hookline_delay)
                await self._pause(hookline_delay)
                hookline_delay = min(hookline_delay * 2, MAX_RETRY_DELAY)
                continue
            hookline_delay = RETRY_DELAY
            if not moved:
                await self._wait_for_rows()

    async def relay_once(self) -> int:
        """One cycle; the number of rows read (0: the outbox is empty)."""
        rows = await self.source.read(READ_LIMIT)
        self._stats = replace(self._stats, lag_seconds=rows[0].age if rows else 0.0)
        if not rows:
            return 0
        lanes: dict[tuple[str, int], list[OutboxRow]] = defaultdict(list)
        for row in rows:
            lane = zlib.crc32(row.ordering_key.encode()) if row.ordering_key else row.seq
            lanes[(row.app, lane % self.lanes)].append(row)
        outcomes = await asyncio.gather(*(self._send_lane(app, lane)
                                          for (app, _), lane in lanes.items()))
        relayed = [seq for done, _, _ in outcomes for seq in done]
        refused = [item for _, gone, _ in outcomes for item in gone]
        await self.source.settle(relayed, refused)
        self._stats = replace(self._stats, rows_relayed=self._stats.rows_relayed + len(relayed),
                              rows_refused=self._stats.rows_refused + len(refused))
        metrics.count_relayed(len(relayed), lag=rows[0].age)
        for seq, why in refused:
            log.warning("outbox relay %s: Hookline refused row %d for good: %s",
                        self.source.name, seq, why)
        failures = [failure for _, _, failure in outcomes if failure is not None]
        if failures:
            raise failures[0]
        return len(rows)

    async def _send_lane(self, app: str, rows: Sequence[OutboxRow]
                         ) -> tuple[list[int], list[tuple[int, str]], SinkUnavailable | None]:
        relayed: list[int] = []
        refused: list[tuple[int, str]] = []
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            try:
                verdicts = await self.sink.publish(app, batch)
            except SinkUnavailable as exc:
                return relayed, refused, exc
            except HooklineError as exc:  # anything else the sink met: retried, never lost
                return relayed, refused, SinkUnavailable(exc.detail)
            for row, verdict in zip(batch, verdicts, strict=True):
                if verdict is ACCEPTED:
                    relayed.append(row.seq)
                else:
                    refused.append((row.seq, verdict))
        return relayed, refused, None

    async def _wait_for_rows(self) -> None:
        waiter = asyncio.ensure_future(self.source.wait_for_rows(self.poll_interval))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({waiter, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopping):
            task.cancel()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass


async def run_relays(relays: Sequence[OutboxRelay]) -> None:
    await asyncio.gather(*(relay.run() for relay in relays))


def lag_seconds(relays: Sequence[OutboxRelay]) -> float:
    """The largest lag among the relays that lead (for a single gauge)."""
    return max((r.stats().lag_seconds for r in relays if r.stats().leader), default=0.0)
