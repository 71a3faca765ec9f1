"""Adaptive concurrency per endpoint: additive increase, multiplicative decrease (AIMD).

An endpoint may have up to its cap of requests in flight (`maxConcurrency`, else
`HOOKLINE_ENDPOINT_CONCURRENCY`; the cap holds across workers, docs/fairness.md). Within it,
each worker keeps a *limit* per endpoint that follows how the endpoint copes: it starts at the
cap, is halved when an answer says the partner is struggling (a timeout or connection failure,
a 429, a 5xx, or a success much slower than the endpoint's usual), at most once per round trip
(the requests already in flight answer for the same moment), and grows back by one request per
limit's worth of good answers. So a partner that slows down or fails gets fewer requests in
flight instead of a queue of timeouts, and the requests it does not get go to the healthy ones.
Other 4xx answers say nothing about load and change nothing.

The state is the worker's own, in memory, for at most `SIZE` endpoints (the one heard from least
lately is forgotten first, back at its cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..models import ErrorKind
from .outcome import Outcome

DECREASE = 0.5  # of the limit, on a sign of trouble
SLOW = 2.0  # a success this many times slower than the endpoint's usual is a sign of trouble
SLOW_FLOOR_MS = 250  # ... and it must also take this long (jitter on fast endpoints is noise)
USUAL_WEIGHT = 0.1  # of each new success in the endpoint's usual latency (moving average)
MIN_COOL_DOWN = 0.05  # seconds between two decreases at least
SIZE = 4096
TROUBLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION,
                           ErrorKind.CONNECTION_REFUSED, ErrorKind.CONNECTION_RESET})


@dataclass
class _Window:
    limit: float
    usual_ms: float | None = None  # moving average of its successes' latency
    calm_from: float = 0.0  # no second decrease before then


class AdaptiveLimits:
    """Each endpoint's current limit of requests in flight, from the outcomes observed."""

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._windows: dict[str, _Window] = {}

    def limit(self, endpoint_id: str, cap: int) -> int:
        window = self._windows.get(endpoint_id)
        if window is None:
            return cap
        return max(1, min(cap, math.floor(window.limit)))

    def observe(self, endpoint_id: str, cap: int, outcome: Outcome, now: float) -> None:
        """One request to `endpoint_id` ended with `outcome` at `now`."""
        window = self._windows.pop(endpoint_id, None)  # put back last: heard from most lately
        if window is None:
            if len(self._windows) >= self._size:
                del self._windows[next(iter(self._windows))]
            window = _Window(float(cap))
        self._windows[endpoint_id] = window
        trouble = _in_trouble(outcome, window)
        if outcome.succeeded:  # slow ones too: a partner slower for good becomes the usual
            window.usual_ms = (outcome.duration_ms if window.usual_ms is None else
                               window.usual_ms + USUAL_WEIGHT * (outcome.duration_ms
                                                                 - window.usual_ms))
        if trouble:
            if now >= window.calm_from:
                window.limit = max(1.0, min(window.limit, cap) * DECREASE)
                window.calm_from = now + max(outcome.duration_ms / 1000, MIN_COOL_DOWN)
        elif outcome.succeeded:
            window.limit = min(float(cap), window.limit + 1 / window.limit)
        # else a 4xx: the partner refused the message, not the load


def _in_trouble(outcome: Outcome, window: _Window) -> bool:
    if outcome.error_kind in TROUBLE_KINDS:
        return True
    status = outcome.status_code
    if status is not None and (status == 429 or status >= 500):
        return True
    if outcome.succeeded and window.usual_ms is not None:
        return outcome.duration_ms >= max(SLOW * window.usual_ms, SLOW_FLOOR_MS)
    return False
