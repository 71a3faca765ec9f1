"""The statistics rules: success rates, the health colour, and hourly buckets."""

from __future__ import annotations

import pytest

from hookline.stats import (
    HOUR,
    RED_STREAK,
    Health,
    WindowCounts,
    fill_hours,
    health_colour,
    hour_start,
)


def test_a_window_with_no_attempt_has_no_success_rate() -> None:
    assert WindowCounts().success_rate is None
    assert WindowCounts(succeeded=3, failed=1).success_rate == 0.75
    assert WindowCounts(succeeded=3, failed=1).total == 4


def test_an_endpoint_with_no_traffic_is_green() -> None:
    assert health_colour(False, 0, WindowCounts()) is Health.GREEN


def test_only_successes_in_the_last_day_is_green() -> None:
    assert health_colour(False, 0, WindowCounts(succeeded=10)) is Health.GREEN


def test_some_failures_in_the_last_day_without_a_failing_streak_is_yellow() -> None:
    assert health_colour(False, 0, WindowCounts(succeeded=10, failed=1)) is Health.YELLOW
    assert health_colour(False, RED_STREAK - 1, WindowCounts(failed=RED_STREAK - 1)) \
        is Health.YELLOW


def test_three_failures_in_a_row_is_red() -> None:
    assert RED_STREAK == 3
    assert health_colour(False, 3, WindowCounts(succeeded=50, failed=3)) is Health.RED
    assert health_colour(False, 7, WindowCounts(failed=7)) is Health.RED


def test_a_failing_streak_is_red_even_when_its_failures_are_older_than_a_day() -> None:
    assert health_colour(False, 3, WindowCounts()) is Health.RED


def test_a_disabled_endpoint_is_red_whatever_its_attempts_say() -> None:
    assert health_colour(True, 0, WindowCounts(succeeded=10)) is Health.RED
    assert health_colour(True, 0, WindowCounts()) is Health.RED


def test_hour_start_rounds_down_to_the_hour() -> None:
    assert hour_start(2 * HOUR + 59.9) == 2 * HOUR
    assert hour_start(2 * HOUR) == 2 * HOUR


def test_fill_hours_ends_with_the_current_hour_and_fills_gaps_with_zero() -> None:
    now = 100 * HOUR + 1234
    buckets = fill_hours([(100, 2, 1), (98, 0, 4), (50, 9, 9)], now, hours=3)
    assert [(b.start, b.succeeded, b.failed) for b in buckets] == [
        (98 * HOUR, 0, 4), (99 * HOUR, 0, 0), (100 * HOUR, 2, 1)]


@pytest.mark.parametrize("hours", [1, 24])
def test_fill_hours_gives_exactly_the_hours_asked_for(hours: int) -> None:
    assert len(fill_hours([], 5000 * HOUR, hours)) == hours
