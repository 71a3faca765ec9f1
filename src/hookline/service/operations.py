"""Operators' use cases: readiness, `hookline status`, and the database's share of /metrics."""

from __future__ import annotations

from typing import Any, Protocol

from .. import metrics
from ..errors import StoreUnavailable
from ..health import (
    LAST_PURGE_KEY,
    StatusReport,
    live_since,
    parse_last_purge,
    worker_status,
)
from .core import ServiceCore


class LocalWorker(Protocol):
    """The delivery worker running in this process, as readiness sees it."""

    @property
    def loop_at(self) -> float: ...


class OperationsUseCases(ServiceCore):
    local_worker: LocalWorker | None = None
    # Worker processes this process started beside it (`hookline serve` on PostgreSQL): then
    # readiness asks the heartbeats for a live worker that is not stalled.
    worker_processes: int = 0

    async def readiness_problems(self) -> list[str]:
        """Why this process should not get traffic; empty when it is ready."""
        try:
            await self.store.ping()
            pending = await self.store.pending_migrations()
        except StoreUnavailable:
            return ["the database is unreachable"]
        problems = [f"migrations not applied: {pending}"] if pending else []
        now = self.clock()
        stall = self.settings.worker_stall_seconds
        if self.local_worker is not None and now - self.local_worker.loop_at > stall:
            problems.append(f"the delivery worker's loop has not run for {stall:g} s")
        if self.worker_processes and self.local_worker is None:
            try:
                beats = await self.store.live_workers(
                    live_since(now, self.settings.heartbeat_interval))
            except StoreUnavailable:
                return ["the database is unreachable"]
            if not any(not worker_status(b, now, stall).stalled for b in beats):
                problems.append("no live delivery worker (none beats, or all are stalled)")
        return problems

    async def status_report(self) -> StatusReport:
        now = self.clock()
        depth = await self.store.queue_depth(now)
        endpoints = await self.store.endpoint_states()
        beats = await self.store.live_workers(live_since(now, self.settings.heartbeat_interval))
        return StatusReport(
            now=now, queue=depth.counts,
            oldest_due_age=None if depth.oldest_due_at is None else
            max(now - depth.oldest_due_at, 0.0),
            endpoints=endpoints,
            workers=[worker_status(b, now, self.settings.worker_stall_seconds) for b in beats],
            last_purge=parse_last_purge(await self.store.get_meta(LAST_PURGE_KEY)))

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """`/readyz`'s status code and body."""
        problems = await self.readiness_problems()
        if problems:
            return 503, {"status": "unavailable", "problems": problems}
        return 200, {"status": "ok"}

    async def metrics_exposition(self) -> tuple[bytes, str]:
        """`/metrics`: the gauges read from the database are set just before rendering; with
        the database away, the counters still render and the gauges keep their last values."""
        try:
            depth = await self.store.queue_depth(self.clock())
            endpoints = await self.store.endpoint_states()
            paused = await self.store.open_circuit_count()
        except StoreUnavailable:
            metrics.count_store_error()
        else:
            metrics.set_queue_depth(depth.counts)
            metrics.set_endpoints(endpoints["enabled"], endpoints["disabled"])
            metrics.set_circuit_open(paused)
        return metrics.render()
