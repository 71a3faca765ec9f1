"""How one claim shares a worker's capacity across endpoints (docs/fairness.md).

PostgreSQL does all of this inside `hookline_claim` (migrations 0026, 0027), in one round
trip; the store on SQLite runs the same steps inside its claim's transaction with the values
here, which follow the function's arithmetic exactly: an endpoint's room is the least of this
worker's room for it, its global cap less the leases other workers hold on it and this
worker's requests in flight to it (its own leases outlast its requests: a lease ends when the
result is stored), its rate-limit tokens,
and 1 for the probe of an endpoint whose circuit's pause ended. Endpoints are served round
robin: each one's first delivery, then each one's second, and so on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BURST_SECONDS = 0.1
"""A rate-limited endpoint's bucket holds this many seconds of its rate (at least one
request): requests spread over each second instead of bursting at its start."""


EPSILON = 1e-4  # of a request: epoch-second floats lose ~1e-7 s, so a refill reads 0.99999


def burst(rate: float, limit: int) -> float:
    return min(float(limit), max(rate * BURST_SECONDS, 1.0))


def refill(tokens: float | None, refilled_at: float | None, now: float, rate: float,
           limit: int) -> float:
    """The bucket's tokens now: a new bucket starts full, and none holds more than a burst."""
    full = burst(rate, limit)
    if tokens is None or refilled_at is None:
        return full
    return min(full, tokens + (now - refilled_at) * rate)


@dataclass
class Share:
    """One endpoint's part of a claim: how many requests it may start now, and which."""

    endpoint_id: str
    room: int
    probe: bool
    tokens: float | None  # its rate-limit bucket after refilling; None: no rate limit
    ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, row: Mapping[str, Any], now: float, limit: int, worker_room: int,
           busy: int) -> Share:
        """From a `claim_candidates` row (the endpoint's cap, other workers' leases, bucket and
        circuit) and this worker's `busy` requests in flight to it."""
        room = min(worker_room, int(row["cap"]) - int(row["leased"]) - busy, limit)
        probe = row["paused_until"] is not None
        if probe:
            room = min(room, 1)
        tokens = None
        if row["rate"] is not None:
            tokens = refill(row["tokens"], row["refilled_at"], now, float(row["rate"]), limit)
            room = min(room, math.floor(tokens + EPSILON))
        return cls(row["id"], max(room, 0), probe, tokens)


def round_robin(shares: Sequence[Share], limit: int) -> list[str]:
    """Each endpoint's first delivery, then each one's second, ..., at most `limit` in all."""
    layers = itertools.zip_longest(*(share.ids for share in shares))
    picked = [delivery_id for layer in layers for delivery_id in layer if delivery_id]
    return picked[:limit]
