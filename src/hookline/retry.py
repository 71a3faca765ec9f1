"""Retry schedules, jitter and auto-disable rules."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import InvalidInput
from .models import Application, DeliveryOptions, Endpoint

# Svix's schedule: the first attempt is immediate, then these delays before each retry.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.10
MAX_RETRIES = 50
MAX_DELAY = 7 * 24 * 3600.0
# Between probes of an endpoint its failure rule disabled: 1 min, 5 min, 30 min, 2 h, then
# every 6 h for as long as a message it missed is kept.
DEFAULT_PROBE_SCHEDULE: tuple[float, ...] = (60, 300, 1800, 7200, 21600)
MIN_PROBE_DELAY = 0.1


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


def validate_schedule(delays: list[float] | None, field: str = "retrySchedule",
                      least: float = 0) -> None:
    if delays is None:
        return
    if field != "retrySchedule" and not delays:
        raise InvalidInput(f"{field} needs at least one delay; use null for the default",
                           field=field)
    if len(delays) > MAX_RETRIES:
        raise InvalidInput(f"a schedule has at most {MAX_RETRIES} delays", field=field)
    for delay in delays:
        if not least <= delay <= MAX_DELAY:
            raise InvalidInput(f"{field} delays must be between {least:g} and "
                               f"{int(MAX_DELAY)} seconds", field=field)


def probe_delay(options: DeliveryOptions, probes_made: int) -> float:
    """Seconds from a disabling (no probe made yet) or a failed probe to the next probe."""
    delays = tuple(options.probe_schedule or DEFAULT_PROBE_SCHEDULE)
    return max(delays[min(probes_made, len(delays) - 1)], MIN_PROBE_DELAY)


def recovers_itself(endpoint: Endpoint, app: Application) -> bool:
    """Whether an endpoint disabled by its failure rule is probed: its own choice, else its
    application's (on unless turned off)."""
    if endpoint.options.auto_recover is not None:
        return endpoint.options.auto_recover
    return app.auto_recover


def should_disable(endpoint: Endpoint, now: float) -> str | None:
    """Why a failing endpoint should be disabled now, or None."""
    rule = endpoint.options
    if rule.disable_after_failures and endpoint.consecutive_failures >= rule.disable_after_failures:
        return f"disabled after {endpoint.consecutive_failures} consecutive failed attempts"
    if (rule.disable_after_seconds is not None and endpoint.failing_since is not None
            and now - endpoint.failing_since >= rule.disable_after_seconds):
        return f"disabled after failing continuously for {int(now - endpoint.failing_since)} s"
    return None
