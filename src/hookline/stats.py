"""Endpoint statistics: delivery counts, attempt outcomes per window, health, hourly buckets.

Test sends (trigger `test`) never count: they say nothing about how live traffic fares.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
# Svix's default statistics period when the caller names none.
DEFAULT_PERIOD = 28 * DAY
# This many failed attempts in a row, with no success between, is "failing continuously".
RED_STREAK = 3
MAX_HOURS = 24 * 31


class Health(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class WindowCounts:
    """Attempt outcomes over one window (the last 24 h, the last 7 days)."""

    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Share of attempts that succeeded, 0..1; None when there was no attempt."""
        return None if self.total == 0 else self.succeeded / self.total


@dataclass(frozen=True)
class EndpointHealth:
    """Everything a dashboard shows about one endpoint."""

    deliveries: dict[str, int] = field(default_factory=dict)  # success/fail/pending/sending
    last_24h: WindowCounts = WindowCounts()
    last_7d: WindowCounts = WindowCounts()
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0
    disabled: bool = False
    health: Health = Health.GREEN


@dataclass(frozen=True)
class HourBucket:
    """Attempts that started in the hour beginning at `start` (epoch seconds, UTC)."""

    start: float
    succeeded: int
    failed: int


def health_colour(disabled: bool, consecutive_failures: int, last_24h: WindowCounts) -> Health:
    """The endpoint's colour, from the strongest signal down:

    - red: the endpoint is disabled, or its last `RED_STREAK` (3) or more attempts all failed
      with no success between them (it is failing continuously);
    - yellow: otherwise, when at least one attempt in the last 24 hours failed (some failures,
      but the latest attempts are not a failing streak of `RED_STREAK`);
    - green: no attempt failed in the last 24 hours (including an endpoint with no traffic).
    """
    if disabled or consecutive_failures >= RED_STREAK:
        return Health.RED
    if last_24h.failed > 0:
        return Health.YELLOW
    return Health.GREEN


def hour_start(epoch: float) -> float:
    return float(int(epoch // HOUR) * HOUR)


def fill_hours(counts: Iterable[tuple[int, int, int]], now: float, hours: int
               ) -> list[HourBucket]:
    """`hours` consecutive buckets ending with the current hour; hours with no attempt are 0.
    `counts` are (hour number since the epoch, succeeded, failed)."""
    by_hour = {int(h): (int(ok), int(bad)) for h, ok, bad in counts}
    last = int(now // HOUR)
    buckets = []
    for number in range(last - hours + 1, last + 1):
        ok, bad = by_hour.get(number, (0, 0))
        buckets.append(HourBucket(number * HOUR, ok, bad))
    return buckets
