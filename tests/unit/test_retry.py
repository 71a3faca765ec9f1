"""Retry schedules, jitter, Retry-After and the auto-disable rules."""

from __future__ import annotations

import random

from hookline.models import DeliveryOptions, Endpoint
from hookline.retry import DEFAULT_SCHEDULE, RetrySchedule, should_disable

DAY = 24 * 3600.0


def test_default_schedule_is_svix_after_an_immediate_first_attempt() -> None:
    schedule = RetrySchedule.for_endpoint(DeliveryOptions())
    assert schedule.delays == (5, 300, 1800, 7200, 18000, 36000, 36000) == DEFAULT_SCHEDULE
    assert schedule.max_attempts == 8


def test_delays_follow_the_schedule_within_ten_percent_jitter() -> None:
    schedule = RetrySchedule((1, 2, 4, 8, 16))
    rng = random.Random(7)
    for attempts_made, base in enumerate((1, 2, 4, 8, 16), start=1):
        delays = [schedule.next_delay(attempts_made, rng=rng) for _ in range(200)]
        assert all(d is not None and base * 0.9 <= d <= base * 1.1 for d in delays)
        assert len(set(delays)) > 1  # jittered, not fixed


def test_schedule_is_exhausted_after_its_last_retry() -> None:
    schedule = RetrySchedule((60, 300, 1800, 7200))
    assert schedule.next_delay(4) is not None
    assert schedule.next_delay(5) is None


def test_retry_after_pushes_the_next_attempt_out_but_is_clamped_to_the_schedule() -> None:
    schedule = RetrySchedule((1, 2, 4), jitter=0)
    assert schedule.next_delay(1, retry_after=3) == 3
    assert schedule.next_delay(1, retry_after=10_000) == 4  # the schedule's longest delay
    assert schedule.next_delay(2, retry_after=0.5) == 2  # never sooner than the schedule


def _failing(options: DeliveryOptions, failures: int, since: float | None) -> Endpoint:
    return Endpoint(id="ep_x", app_id="app_x", url="https://example.com", secret="s",
                    options=options, consecutive_failures=failures, failing_since=since)


def test_endpoint_is_disabled_after_n_consecutive_failures() -> None:
    options = DeliveryOptions(disable_after_failures=5, disable_after_seconds=None)
    assert should_disable(_failing(options, 4, 0.0), now=10.0) is None
    assert "5 consecutive" in (should_disable(_failing(options, 5, 0.0), now=10.0) or "")


def test_endpoint_is_disabled_after_failing_continuously_for_five_days() -> None:
    options = DeliveryOptions()
    assert should_disable(_failing(options, 100, 0.0), now=5 * DAY - 1) is None
    assert "failing continuously" in (should_disable(_failing(options, 1, 0.0), now=5 * DAY)
                                      or "")
    assert should_disable(_failing(options, 0, None), now=50 * DAY) is None
