"""Retry schedules, jitter and auto-disable rules."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import InvalidInput
from .models import DeliveryOptions, Endpoint

# Svix's schedule: the first attempt is immediate, then these delays before each retry.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.10
MAX_RETRIES = 50
MAX_DELAY = 7 * 24 * 3600.0


@dataclass(frozen=True)
class RetrySchedule:
    """Delays, in seconds, before each retry; the first attempt is always immediate."""

    delays: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = JITTER

    @classmethod
    def for_endpoint(cls, options: DeliveryOptions, jitter: float = JITTER) -> RetrySchedule:
        if options.retry_schedule is None:
            return cls(DEFAULT_SCHEDULE, jitter)
        return cls(tuple(options.retry_schedule), jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(
        self, attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds until the next attempt after `attempts_made` failures, or None when exhausted.

        A `Retry-After` from the receiver pushes the attempt out to at least that long,
        clamped to the schedule's longest delay so a receiver cannot park a delivery forever.
        """
        if attempts_made >= self.max_attempts:
            return None
        delay = self.delays[attempts_made - 1]
        spread = delay * self.jitter
        delay += (rng or random).uniform(-spread, spread)
        if retry_after is not None:
            ceiling = max(max(self.delays), delay)
            delay = max(delay, min(retry_after, ceiling))
        return max(delay, 0.0)


def validate_schedule(delays: list[float] | None) -> None:
    if delays is None:
        return
    if len(delays) > MAX_RETRIES:
        raise InvalidInput(f"a retry schedule has at most {MAX_RETRIES} delays",
                           field="retrySchedule")
    for delay in delays:
        if not 0 <= delay <= MAX_DELAY:
            raise InvalidInput(f"retry delays must be between 0 and {int(MAX_DELAY)} seconds",
                               field="retrySchedule")


def should_disable(endpoint: Endpoint, now: float) -> str | None:
    """Why a failing endpoint should be disabled now, or None."""
    rule = endpoint.options
    if rule.disable_after_failures and endpoint.consecutive_failures >= rule.disable_after_failures:
        return f"disabled after {endpoint.consecutive_failures} consecutive failed attempts"
    if (rule.disable_after_seconds is not None and endpoint.failing_since is not None
            and now - endpoint.failing_since >= rule.disable_after_seconds):
        return f"disabled after failing continuously for {int(now - endpoint.failing_since)} s"
    return None
