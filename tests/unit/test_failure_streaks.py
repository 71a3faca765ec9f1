"""Failure streaks: per endpoint, the failures since its last success in a batch of results.

They feed the endpoint's consecutive-failure count (health turns red at three) and the
auto-disable rules, so order and test sends matter.
"""

from __future__ import annotations

from hookline.models import Attempt, AttemptTrigger, DeliveryStatus
from hookline.store.core import DeliveryResult, failure_streaks


def result(endpoint_id: str, at: float, succeeded: bool,
           trigger: AttemptTrigger = AttemptTrigger.SCHEDULED) -> DeliveryResult:
    attempt = Attempt(id=f"atmpt_{endpoint_id}_{at:g}", delivery_id="dlv_1", message_id="msg_1",
                      endpoint_id=endpoint_id, app_id="app_1", url="https://example.com",
                      created_at=at, succeeded=succeeded, trigger=trigger)
    status = DeliveryStatus.SUCCEEDED if succeeded else DeliveryStatus.PENDING
    return DeliveryResult(attempt, "lease_1", status, None)


def test_failures_with_no_success_count_from_the_first_failure() -> None:
    streak = failure_streaks([result("ep_a", 10, False), result("ep_a", 20, False)])["ep_a"]
    assert (streak.succeeded, streak.failures, streak.failing_since) == (False, 2, 10)
    assert streak.last_attempt_at == 20 and streak.last_success_at is None


def test_a_success_resets_the_streak_and_later_failures_start_a_new_one() -> None:
    streak = failure_streaks([result("ep_a", 10, False), result("ep_a", 20, True),
                              result("ep_a", 30, False)])["ep_a"]
    assert streak.succeeded and streak.last_success_at == 20
    assert (streak.failures, streak.failing_since, streak.last_attempt_at) == (1, 30, 30)


def test_a_success_last_leaves_no_failures() -> None:
    streak = failure_streaks([result("ep_a", 10, False), result("ep_a", 20, True)])["ep_a"]
    assert (streak.failures, streak.failing_since, streak.last_success_at) == (0, None, 20)


def test_results_are_taken_in_attempt_time_order_not_batch_order() -> None:
    # Workers finish out of order; the attempt that started last decides the streak.
    streak = failure_streaks([result("ep_a", 30, False), result("ep_a", 10, True),
                              result("ep_a", 20, False)])["ep_a"]
    assert (streak.failures, streak.failing_since, streak.last_success_at) == (2, 20, 10)
    assert streak.last_attempt_at == 30


def test_each_endpoint_has_its_own_streak() -> None:
    streaks = failure_streaks([result("ep_a", 10, False), result("ep_b", 11, True),
                               result("ep_a", 12, False)])
    assert streaks["ep_a"].failures == 2 and not streaks["ep_a"].succeeded
    assert streaks["ep_b"].failures == 0 and streaks["ep_b"].succeeded


def test_test_sends_do_not_touch_the_streak() -> None:
    streaks = failure_streaks([result("ep_a", 10, False),
                               result("ep_a", 20, True, AttemptTrigger.TEST),
                               result("ep_b", 30, False, AttemptTrigger.TEST)])
    assert streaks["ep_a"].failures == 1 and streaks["ep_a"].last_success_at is None
    assert "ep_b" not in streaks


def test_manual_resends_count_like_scheduled_attempts() -> None:
    streak = failure_streaks([result("ep_a", 10, False),
                              result("ep_a", 20, False, AttemptTrigger.MANUAL)])["ep_a"]
    assert streak.failures == 2


def test_no_results_no_streaks() -> None:
    assert failure_streaks([]) == {}
