"""Wiring: the one place that turns settings into a running store, egress policy, transport,
service and worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver

from . import metrics
from .config import Settings
from .delivery.egress import EgressPolicy
from .delivery.sender import Sender
from .delivery.traced import traced_edges
from .delivery.transport import Transport
from .delivery.worker import DeliveryWorker, WorkerHooks
from .relay import OutboxRelay, ServiceSink, open_source
from .retention import Purger
from .secretbox import SecretBox
from .service import Service
from .service.recovery import run_prober
from .store import Store, open_store
from .tracing import Tracing, start_tracing

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    service: Service
    transport: Transport
    worker: DeliveryWorker | None = None
    # The transport when it is the real one, which holds a connection pool to close.
    sender: Sender | None = None
    _worker_task: asyncio.Task[None] | None = field(default=None, repr=False)
    # Retention runs beside the worker (retention.py); one process purges at a time.
    purger: Purger | None = None
    # Loops beside the worker until `stop`: the purge, and the prober of endpoints disabled
    # by their failure rule (service/recovery.py).
    _side_loops: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _stop_side_loops: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    # One per HOOKLINE_OUTBOX_SOURCES entry, beside the worker (their stats feed /metrics).
    relays: list[OutboxRelay] = field(default_factory=list)
    _relay_tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    # Off unless an OTLP endpoint is set (tracing/): the service's publish spans, the worker's.
    tracing: Tracing = field(default_factory=Tracing)

    @classmethod
    async def start(cls, settings: Settings, *, with_worker: bool = True,
                    migrate: bool = True, hooks: WorkerHooks | None = None,
                    sender: Transport | None = None,
                    resolver: AbstractResolver | None = None,
                    clock: Callable[[], float] = time.time) -> Runtime:
        """`sender` replaces the network (a test's `MockTransport`, say); `resolver` is the
        DNS resolver of the real sender; `clock` is what the service and the worker read as
        now (a test's clock that it moves by hand)."""
        metrics.configure(app_labels=settings.metrics_app_labels,
                          directory=settings.metrics_dir)
        box = SecretBox.load(settings.secret_key, settings.data_dir)
        store = await open_store(settings, box)
        if migrate:
            applied = await store.migrate()
            if applied:
                log.info("applied migrations %s", applied)
        policy = EgressPolicy.from_cidrs(settings.egress_allow)
        transport = sender or Sender(settings, policy, resolver=resolver)
        tracing = start_tracing(settings.otel_endpoint)
        service = Service(store, settings, transport=transport, policy=policy, box=box,
                          clock=clock, tracing=tracing)
        runtime = cls(settings, store, service, transport,
                      sender=transport if isinstance(transport, Sender) else None,
                      tracing=tracing)
        if with_worker:
            # By default the worker reports to operational webhooks (service/operational.py).
            worker_store, worker_transport = traced_edges(store, transport, tracing)
            runtime.worker = DeliveryWorker(worker_store, settings, worker_transport,
                                            hooks=hooks or service.operational, clock=clock)
            runtime.service.on_due = runtime.worker.wake
            runtime.service.local_worker = runtime.worker
            runtime._worker_task = asyncio.create_task(runtime.worker.run(),
                                                       name="hookline-worker")
            runtime.purger = Purger(store, settings, clock)
            stopping = runtime._stop_side_loops
            runtime._side_loops = [
                asyncio.create_task(runtime.purger.run(stopping), name="hookline-retention"),
                asyncio.create_task(run_prober(service, settings.probe_interval, stopping),
                                    name="hookline-prober")]
            runtime._start_relays()
        return runtime

    def _start_relays(self) -> None:
        sink = ServiceSink(self.service)
        for url in self.settings.outbox_sources:
            relay = OutboxRelay(open_source(url), sink,
                                poll_interval=self.settings.outbox_poll_interval)
            self.relays.append(relay)
            self._relay_tasks.append(asyncio.create_task(relay.run(), name="hookline-relay"))

    async def stop_when_worker_ends(self) -> None:
        """Wait for the worker to stop (a signal called `worker.stop()`), then close."""
        if self._worker_task is not None:
            await self._worker_task
        await self.stop()

    async def stop(self) -> None:
        self._stop_side_loops.set()
        await asyncio.gather(*self._side_loops)
        await self.service.stop_tasks()
        for relay in self.relays:
            relay.stop()
        await asyncio.gather(*self._relay_tasks)
        if self.worker is not None and self._worker_task is not None:
            self.worker.stop()
            await self._worker_task
        if self.sender is not None:
            await self.sender.close()
        await self.store.close()
        if self.tracing.enabled:  # the last spans' export may wait on the collector
            await asyncio.to_thread(self.tracing.shutdown)
