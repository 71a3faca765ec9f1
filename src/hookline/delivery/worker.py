"""The delivery worker: claim due deliveries with a lease, send them, record, reschedule.

Shape: capacity is checked before claiming, and a claim asks for no more deliveries of an
endpoint than its cap lets start; a batch is leased and committed before any request goes out;
results are stored in batches. An endpoint's slot is freed when its request ends, so sending
never waits on the database; results not yet stored still count against the worker's
concurrency, so a database that stalls stops new claims. Claims are fair across endpoints and
hold each endpoint's cap and rate limit across all workers (docs/fairness.md); endpoints this
worker sends to at their cap are left out of the next claim, so a slow endpoint never holds
back the others, and one that answers 429/503 with Retry-After or keeps timing out is paused
(`circuit.py`). A worker killed
mid-request loses nothing: its lease expires and another worker delivers again (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .. import ids, metrics
from ..config import Settings
from ..errors import StoreUnavailable
from ..logs import log_ids
from ..models import AttemptTrigger, DeliveryStatus, Endpoint, ErrorKind
from ..retry import RetrySchedule, should_disable
from ..store.base import Claim, DeliveryResult, Store
from .attempt_log import attempt_ids, claim_ids, log_recorded
from .circuit import Circuits, backs_off
from .concurrency import AdaptiveLimits
from .heartbeat import Heartbeat
from .outcome import Outcome
from .request import RecentBodies
from .transport import Transport, send_message

log = logging.getLogger(__name__)

RECORD_BATCH = 128
RECORD_LINGER = 0.005  # seconds a result waits for company before it is written
STORE_RETRY_MAX = 5.0
KNOWN_CAPS_SIZE = 4096  # endpoints whose cap a worker remembers for sizing its claims
LISTEN_RETRY = 5.0
PACE = 0.05  # seconds between claims while due work waits on caps, rate limits or circuits
# Seconds at least between two claims while requests are in flight: the slots the requests
# that end meanwhile free are claimed together, not one claim (one database round trip and
# one run of the claim's statements) per request that ended.
CLAIM_GAP = 0.003


class WorkerHooks(Protocol):
    """What the worker tells the rest of Hookline (operational webhooks, metrics)."""

    async def after_record(self, results: list[DeliveryResult],
                           disabled: list[Endpoint]) -> None: ...

    async def circuit_changed(self, endpoint: Endpoint, paused_until: float | None,
                              reason: str | None) -> None: ...


@dataclass
class _Done:
    claim: Claim
    result: DeliveryResult
    retry_after: float | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{ids.new_id('w')[-6:]}"


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        transport: Transport,
        *,
        hooks: WorkerHooks | None = None,
        clock: Callable[[], float] = time.time,
        name: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.hooks = hooks
        self.clock = clock
        self.name = name or worker_name()
        self._signal = asyncio.Event()
        self._stopping = asyncio.Event()
        self._give_up_at = float("inf")  # stopping: results not stored by then are dropped
        self._in_flight: dict[str, tuple[Claim, asyncio.Task[None]]] = {}
        self._per_endpoint: Counter[str] = Counter()
        self._caps: dict[str, int] = {}  # the cap of each endpoint with requests in flight
        # The cap of each endpoint claimed lately, in flight or not, so a claim asks for no
        # more than each endpoint's cap lets start.
        self._known_caps: dict[str, int] = {}
        self._bodies = RecentBodies()
        self._done: list[_Done] = []
        self._unrecorded = 0  # results finished but not stored yet (in _done or being written)
        self._done_ready = asyncio.Event()
        self._circuits = Circuits(store, clock, hooks)
        self._limits = AdaptiveLimits()
        # Endpoints that answered 429/503 with Retry-After, kept out of this worker's claims
        # until the pause is stored (it is stored with the result, a few milliseconds later).
        self._backing_off: set[str] = set()
        self._stop_listening: Callable[[], Awaitable[Any]] | None = None
        self._next_listen_try = 0.0
        self.started_at = self.loop_at = clock()  # loop_at: the claim loop's last round
        self._last_claim = 0.0  # the event loop's time of the last claim

    # -- control -------------------------------------------------------------------------
    def wake(self) -> None:
        """Deliveries became due (a publish in this process, or a NOTIFY from another)."""
        self._signal.set()

    def stop(self) -> None:
        """Stop claiming; in-flight requests get `shutdown_grace` seconds to finish, and their
        results as long again to be stored."""
        if not self._stopping.is_set():
            self._give_up_at = self.clock() + 2 * self.settings.shutdown_grace
        self._stopping.set()
        self._signal.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    # -- main loop -----------------------------------------------------------------------
    async def run(self) -> None:
        log.info("worker %s started", self.name, extra=log_ids(worker=self.name))
        recorder = asyncio.create_task(self._record_loop(), name="hookline-recorder")
        heartbeat = Heartbeat(self, self.settings.heartbeat_interval)
        beating = asyncio.create_task(heartbeat.run(), name="hookline-heartbeat")
        failures = 0
        try:
            while not self._stopping.is_set():
                self.loop_at = self.clock()
                self._signal.clear()
                await self._ensure_listener()
                await self._space_claims()
                free = (self.settings.worker_concurrency - len(self._in_flight)
                        - self._unrecorded)
                if free <= 0:
                    await self._pause(self.settings.poll_interval)
                    continue
                try:
                    claims = await self.store.claim_due_deliveries(
                        self.name, min(free, self.settings.claim_batch_size), self.clock(),
                        self.settings.lease_seconds, self._saturated_endpoints(),
                        self._room(), self.settings.endpoint_concurrency,
                        self.settings.endpoint_concurrency, self._per_endpoint)
                except Exception as exc:  # the worker keeps going
                    failures += 1
                    metrics.count_store_error()
                    delay = min(0.25 * 2 ** failures, STORE_RETRY_MAX)
                    if isinstance(exc, StoreUnavailable):
                        log.warning("worker %s: database unavailable (%s); retrying in %.1f s",
                                    self.name, exc.__cause__ or exc, delay)
                    else:
                        log.exception("worker %s: claim failed; retrying in %.1f s",
                                      self.name, delay)
                    await self._close_listener()
                    await self._pause(delay)
                    continue
                if failures:
                    log.info("worker %s: database reachable again", self.name)
                    failures = 0
                if claims:
                    await self._start_within_caps(claims)
                else:
                    await self._idle()
        finally:
            self.stop()  # also when the loop broke: the recorder ends once it is stopping
            await self._drain()
            self._done_ready.set()
            await recorder
            await self._close_listener()
            await heartbeat.stop(beating)
            log.info("worker %s stopped", self.name, extra=log_ids(worker=self.name))

    async def _space_claims(self) -> None:
        """While requests are in flight, wait out `CLAIM_GAP` since the last claim (an idle
        worker woken by a publish claims at once)."""
        loop = asyncio.get_running_loop()
        if self._in_flight:
            wait = self._last_claim + CLAIM_GAP - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_claim = loop.time()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._signal.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _idle(self) -> None:
        """Sleep until the next delivery is due, a wake-up, or the poll interval."""
        wait = self.settings.poll_interval
        if self._in_flight:
            # Likely at its caps: a request ending wakes this loop at once. Meanwhile look
            # again soon (a rate-limited endpoint's tokens come back by themselves) rather
            # than ask the database when the next delivery is due.
            await self._pause(min(PACE, wait))
            return
        try:
            due = await self.store.next_due_at()
        except StoreUnavailable:
            due = None
        except Exception:  # the worker keeps going; the poll interval stands in
            log.exception("worker %s: cannot tell when the next delivery is due", self.name)
            due = None
        if due is not None:
            wait = min(wait, max(due - self.clock(), 0.0))
            if wait <= 0:
                # Due now but not claimable: its endpoint is at its cap (here or in another
                # worker), out of rate-limit tokens, or paused. A slot freed here wakes this
                # loop at once; the others free up by themselves, so look again soon.
                wait = min(PACE, self.settings.poll_interval)
        await self._pause(wait)

    async def _ensure_listener(self) -> None:
        if self._stop_listening is not None:
            return
        if self.clock() < self._next_listen_try:
            return
        self._next_listen_try = self.clock() + LISTEN_RETRY
        try:
            self._stop_listening = await self.store.listen(self.wake)
        except Exception as exc:
            log.warning("worker %s: cannot LISTEN for new deliveries (%s); polling", self.name,
                        exc)

    async def _close_listener(self) -> None:
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            try:
                await stop()
            except Exception:  # the connection may already be gone
                log.debug("worker %s: closing the listener failed", self.name, exc_info=True)

    def _saturated_endpoints(self) -> list[str]:
        """What the next claim skips: endpoints at their limit here, and those backing off."""
        full = {endpoint_id for endpoint_id, count in self._per_endpoint.items()
                if count >= self._limits.limit(endpoint_id, self._caps[endpoint_id])}
        return sorted(full | self._backing_off)

    def _room(self) -> dict[str, int]:
        """Free slots per endpoint this worker knows the cap of (saturated ones excluded),
        within each one's adaptive limit (`concurrency.py`)."""
        room = {endpoint_id: self._limits.limit(endpoint_id, cap)
                - self._per_endpoint[endpoint_id]
                for endpoint_id, cap in self._known_caps.items()}
        return {endpoint_id: n for endpoint_id, n in room.items() if n > 0}

    def _cap(self, endpoint: Endpoint) -> int:
        """The endpoint's configured cap (its adaptive limit stays within it)."""
        return endpoint.options.max_concurrency or self.settings.endpoint_concurrency

    async def _start_within_caps(self, claims: list[Claim]) -> None:
        """Start what each endpoint's limit allows. A claim asks for no more than the limits this
        worker knows of; an endpoint seen for the first time, whose cap was just lowered or
        whose limit fell during the claim may come with more, and those go straight back to
        the queue, unsent."""
        overflow = []
        for claim in claims:
            endpoint = claim.endpoint
            if self._per_endpoint[endpoint.id] >= self._limits.limit(endpoint.id,
                                                                     self._cap(endpoint)):
                self._remember_cap(claim.endpoint)
                overflow.append(claim)
            else:
                self._start(claim)
        if overflow:
            try:
                await self.store.release_deliveries(overflow, self.clock())
            except StoreUnavailable:
                log.warning("worker %s: could not hand back %d deliveries; their leases will "
                            "expire", self.name, len(overflow))

    # -- one delivery --------------------------------------------------------------------
    def _start(self, claim: Claim) -> None:
        task = asyncio.create_task(self._deliver(claim))
        self._in_flight[claim.delivery_id] = (claim, task)
        metrics.request_started()
        self._per_endpoint[claim.endpoint.id] += 1
        self._caps[claim.endpoint.id] = self._cap(claim.endpoint)
        self._remember_cap(claim.endpoint)

    def _remember_cap(self, endpoint: Endpoint) -> None:
        if endpoint.id not in self._known_caps and len(self._known_caps) >= KNOWN_CAPS_SIZE:
            idle = next((e for e in self._known_caps if e not in self._per_endpoint), None)
            if idle is None:
                return
            del self._known_caps[idle]
        self._known_caps[endpoint.id] = self._cap(endpoint)

    async def _deliver(self, claim: Claim) -> None:
        started = self.clock()
        try:
            sent = await send_message(self.transport, claim.message, claim.endpoint, started,
                                      self.settings.lease_seconds, self._bodies)
            outcome, headers = sent.outcome, sent.request_headers
        except Exception as exc:
            log.exception("worker %s: cannot send %s", self.name, claim.delivery_id,
                          extra=claim_ids(claim, self.name))
            outcome = Outcome.error(ErrorKind.INTERNAL, f"{type(exc).__name__}", 0)
            headers = {}
        self._limits.observe(claim.endpoint.id, self._cap(claim.endpoint), outcome,
                             self.clock())
        if backs_off(outcome.status_code, outcome.retry_after):
            self._backing_off.add(claim.endpoint.id)
        result = decide(claim, outcome, started, headers)
        result.attempt.worker = self.name
        self._done.append(_Done(claim, result, outcome.retry_after))
        self._unrecorded += 1
        self._end_request(claim)
        if len(self._done) >= RECORD_BATCH or not self._done_ready.is_set():
            self._done_ready.set()

    # -- recording -----------------------------------------------------------------------
    async def _record_loop(self) -> None:
        failures = 0
        while True:
            await self._done_ready.wait()
            if len(self._done) < RECORD_BATCH and not self._stopping.is_set():
                await asyncio.sleep(RECORD_LINGER)
            self._done_ready.clear()
            batch, self._done = self._done, []
            if batch:
                try:
                    disabled = await self.store.record_results([d.result for d in batch],
                                                                should_disable)
                except StoreUnavailable as exc:
                    # Nothing counts until stored: keep the slots, try again. If the lease
                    # runs out first, another worker sends again (at-least-once).
                    failures += 1
                    metrics.count_store_error()
                    self._done = batch + self._done
                    if self._stopping.is_set() and self.clock() >= self._give_up_at:
                        log.warning("worker %s: stopping without recording %d attempts (%s); "
                                    "their deliveries are sent again once their leases expire",
                                    self.name, len(self._done), exc.__cause__ or exc)
                        return
                    log.warning("worker %s: cannot record %d attempts (%s); retrying",
                                self.name, len(batch), exc.__cause__ or exc)
                    await asyncio.sleep(min(0.25 * 2 ** failures, STORE_RETRY_MAX))
                    self._done_ready.set()
                    continue
                except Exception:
                    log.exception("worker %s: cannot record a batch of %d attempts; recording "
                                  "them one by one", self.name, len(batch))
                    disabled = await self._record_one_by_one(batch)
                failures = 0
                self._unrecorded -= len(batch)
                _observe(batch)
                log_recorded(d.result for d in batch)
                await self._circuits.observe([(d.claim, d.result, d.retry_after) for d in batch])
                self._backing_off.difference_update(
                    d.claim.endpoint.id for d in batch if d.retry_after is not None)
                self._signal.set()
                if self.hooks is not None:
                    try:
                        await self.hooks.after_record([d.result for d in batch], disabled)
                    except Exception:
                        log.exception("worker %s: hook failed", self.name)
            if self._stopping.is_set() and not self._in_flight and not self._done:
                return

    async def _record_one_by_one(self, batch: list[_Done]) -> list[Endpoint]:
        """One result the database refuses must not hold back the rest of its batch. A
        refused result is retried without what the receiver sent back; if even that fails,
        it is dropped and its lease left to expire, so the delivery is sent again."""
        disabled: list[Endpoint] = []
        for done in batch:
            for result in (done.result, _without_response(done.result)):
                try:
                    disabled += await self.store.record_results([result], should_disable)
                    break
                except Exception:
                    log.exception("worker %s: cannot record attempt %s", self.name,
                                  result.attempt.id, extra=attempt_ids(result.attempt))
        return disabled

    def _end_request(self, claim: Claim) -> None:
        """The request is over: its endpoint may take another one (its result is stored later,
        and counts against the worker's concurrency until then)."""
        if self._in_flight.pop(claim.delivery_id, None) is not None:
            metrics.request_ended()
        endpoint_id = claim.endpoint.id
        self._per_endpoint[endpoint_id] -= 1
        if self._per_endpoint[endpoint_id] <= 0:
            del self._per_endpoint[endpoint_id]
            del self._caps[endpoint_id]
        self._signal.set()

    async def _drain(self) -> None:
        """Graceful stop: let in-flight requests finish within the grace period, then hand
        back what is unfinished so another worker takes it at once."""
        tasks = {task for _, task in self._in_flight.values() if not task.done()}
        if tasks:
            log.info("worker %s: waiting up to %.0f s for %d requests", self.name,
                     self.settings.shutdown_grace, len(tasks))
            await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        unfinished = [(c, t) for c, t in self._in_flight.values() if not t.done()]
        for _, task in unfinished:
            task.cancel()
        await asyncio.gather(*(t for _, t in unfinished), return_exceptions=True)
        claims = [c for c, _ in unfinished]
        for claim in claims:
            if self._in_flight.pop(claim.delivery_id, None) is not None:
                metrics.request_ended()
        if claims:
            try:
                await self.store.release_deliveries(claims, self.clock())
                log.info("worker %s: released %d unfinished deliveries", self.name, len(claims))
            except StoreUnavailable:
                log.warning("worker %s: could not release %d deliveries; their leases will "
                            "expire", self.name, len(claims))


_OUTCOMES = {DeliveryStatus.SUCCEEDED: "succeeded", DeliveryStatus.PENDING: "retrying",
             DeliveryStatus.FAILED: "failed"}


def _observe(batch: list[_Done]) -> None:
    """Count stored attempts; a message's first scheduled attempt also gives its lag."""
    for done in batch:
        attempt = done.result.attempt
        first = attempt.attempt_number == 1 and attempt.trigger == AttemptTrigger.SCHEDULED
        metrics.observe_attempt(
            attempt.app_id, _OUTCOMES[done.result.status], attempt.error_kind,
            attempt.duration_ms / 1000,
            attempt.created_at - done.claim.message.created_at if first else None)


def _without_response(result: DeliveryResult) -> DeliveryResult:
    attempt = replace(result.attempt, response_body="", request_headers={},
                      error_detail="the receiver's answer could not be stored")
    return replace(result, attempt=attempt)


def decide(claim: Claim, outcome: Outcome, started: float,
           request_headers: dict[str, str]) -> DeliveryResult:
    """What an attempt's outcome means for its delivery: done, retry later, or failed."""
    number = claim.attempt_number
    attempt = outcome.as_attempt(
        attempt_id=claim.attempt_id, delivery_id=claim.delivery_id, message=claim.message,
        endpoint=claim.endpoint, started=started, trigger=claim.trigger,
        request_headers=request_headers, attempt_number=number)
    if outcome.succeeded:
        return DeliveryResult(attempt, claim.lease_id, DeliveryStatus.SUCCEEDED, None)
    delay = None
    if outcome.retryable:
        schedule = RetrySchedule.for_endpoint(claim.endpoint.options)
        delay = schedule.next_delay(number, outcome.retry_after)
    if delay is None:
        return DeliveryResult(attempt, claim.lease_id, DeliveryStatus.FAILED, None)
    return DeliveryResult(attempt, claim.lease_id, DeliveryStatus.PENDING,
                          started + outcome.duration_ms / 1000 + delay)
