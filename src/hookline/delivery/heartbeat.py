"""A worker's heartbeat: every few seconds it writes that it is alive, when its claim loop
last went round and how many requests it has in flight (`worker_heartbeats`), so readiness
and `hookline status` on any process can tell a live worker from a stalled or dead one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from .. import metrics
from ..health import WorkerBeat
from ..store.base import Store

log = logging.getLogger(__name__)


class Beating(Protocol):
    """What a heartbeat reads of its worker."""

    store: Store
    name: str
    started_at: float
    loop_at: float

    clock: Callable[[], float]

    @property
    def in_flight(self) -> int: ...


class Heartbeat:
    def __init__(self, worker: Beating, interval: float) -> None:
        self.worker = worker
        self.interval = interval
        self._stopped = asyncio.Event()

    async def beat(self) -> None:
        w = self.worker
        await w.store.beat_worker(WorkerBeat(w.name, w.started_at, w.clock(), w.loop_at,
                                             w.in_flight))

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self.beat()
            except Exception as exc:  # the database may be away: the next beat tries again
                metrics.count_store_error()
                log.warning("worker %s: cannot write its heartbeat (%s)", self.worker.name,
                            exc.__cause__ or exc)
            try:
                await asyncio.wait_for(self._stopped.wait(), self.interval)
            except TimeoutError:
                pass

    async def stop(self, task: asyncio.Task[None]) -> None:
        """End the beats and remove this worker's row: a stopped worker is not a dead one."""
        self._stopped.set()
        await task
        try:
            await self.worker.store.end_worker(self.worker.name)
        except Exception:
            log.debug("worker %s: cannot remove its heartbeat", self.worker.name,
                      exc_info=True)
