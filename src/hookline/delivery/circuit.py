"""When an endpoint's circuit opens and closes (docs/fairness.md).

A message's retry schedule backs off one message; a partner that is down, overloaded or rate
limiting us needs the whole endpoint to back off, or its queue of retries keeps hitting it. The
circuit opens on a 429 or 503 with `Retry-After` (for that long, clamped as the message's retry
is), or on a run of timeouts and connection failures (for `FIRST_PAUSE`, doubling up to
`MAX_PAUSE` while its probes fail). While it is open no claim takes the endpoint's deliveries,
so none uses an attempt; when the pause ends, claims let one probe through (the claim's
`probe`), whose outcome closes the circuit or opens it again. The state lives in the database
(`endpoint_flow`), shared by every worker; the run of failures is counted per worker.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from ..models import Endpoint, ErrorKind
from ..retry import RetrySchedule
from ..store.base import Claim, DeliveryResult, Store

log = logging.getLogger(__name__)

FAILURES_IN_A_ROW = 5
FIRST_PAUSE = 5.0
MAX_PAUSE = 300.0
BACK_OFF_STATUSES = frozenset({429, 503})
UNREACHABLE = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.CONNECTION_REFUSED,
                         ErrorKind.CONNECTION_RESET, ErrorKind.DNS, ErrorKind.TLS})


def backs_off(status_code: int | None, retry_after: float | None) -> bool:
    """Whether an answer asks the whole endpoint to wait (a 429 or 503 with Retry-After)."""
    return status_code in BACK_OFF_STATUSES and bool(retry_after)


class CircuitHooks(Protocol):
    async def circuit_changed(self, endpoint: Endpoint, paused_until: float | None,
                              reason: str | None) -> None: ...


class Circuits:
    def __init__(self, store: Store, clock: Callable[[], float],
                 hooks: CircuitHooks | None = None) -> None:
        self.store = store
        self.clock = clock
        self.hooks = hooks
        self._unreachable: Counter[str] = Counter()  # failures in a row, per endpoint

    async def observe(self, outcomes: Sequence[tuple[Claim, DeliveryResult, float | None]]
                      ) -> None:
        """Each stored (claim, result, Retry-After seconds), in the order they finished."""
        for claim, result, retry_after in outcomes:
            try:
                await self._observe(claim, result, retry_after)
            except Exception:  # the next outcome decides again; delivery goes on meanwhile
                log.exception("cannot update the circuit of endpoint %s", claim.endpoint.id)

    async def _observe(self, claim: Claim, result: DeliveryResult,
                       retry_after: float | None) -> None:
        endpoint, attempt = claim.endpoint, result.attempt
        if attempt.succeeded:
            self._unreachable.pop(endpoint.id, None)
            if claim.probe:
                await self.store.resume_endpoint(endpoint.id)
                log.info("endpoint %s: circuit closed, its probe got through", endpoint.id)
                await self._announce(endpoint, None, None)
            return
        if retry_after is not None and backs_off(attempt.status_code, retry_after):
            self._unreachable.pop(endpoint.id, None)
            # Clamped as the message's own retry is, so a receiver cannot park its endpoint.
            longest = max(RetrySchedule.for_endpoint(endpoint.options).delays, default=MAX_PAUSE)
            await self._pause(endpoint, f"answered HTTP {attempt.status_code} with Retry-After",
                              claim.probe, min(retry_after, longest, MAX_PAUSE))
            return
        if attempt.error_kind in UNREACHABLE:
            self._unreachable[endpoint.id] += 1
        elif not claim.probe:
            self._unreachable.pop(endpoint.id, None)
            return
        if claim.probe or self._unreachable[endpoint.id] >= FAILURES_IN_A_ROW:
            await self._pause(endpoint, _why(attempt.error_kind, claim.probe), claim.probe)

    async def _pause(self, endpoint: Endpoint, reason: str, probe: bool,
                     seconds: float | None = None) -> None:
        """Pause for `seconds`; without: `FIRST_PAUSE`, or twice the last pause after a probe
        failed."""
        now = self.clock()
        until, last = await self.store.endpoint_pause(endpoint.id)
        if seconds is None:
            seconds = min(max(FIRST_PAUSE, last * 2), MAX_PAUSE) if probe else FIRST_PAUSE
        opening = not probe and (until is None or until <= now)
        if until is not None and until > now + seconds and not probe:
            return  # already paused for longer
        await self.store.pause_endpoint(endpoint.id, now + seconds, seconds, reason)
        if opening:
            log.warning("endpoint %s: circuit open for %.0f s (%s)", endpoint.id, seconds,
                        reason)
            await self._announce(endpoint, now + seconds, reason)

    async def _announce(self, endpoint: Endpoint, until: float | None,
                        reason: str | None) -> None:
        if self.hooks is not None:
            try:
                await self.hooks.circuit_changed(endpoint, until, reason)
            except Exception:
                log.exception("endpoint %s: cannot announce its circuit", endpoint.id)


def _why(kind: str | None, probe: bool) -> str:
    if probe:
        return f"its probe failed ({kind or 'HTTP error'})"
    return f"{FAILURES_IN_A_ROW} requests in a row failed ({kind})"
