"""The worker's decision: what one attempt's outcome means for its delivery.

`decide()` is pure (a claim and an outcome in, a result out), so these need no network and
no database; they are about inputs and outputs, not where the function lives.
"""

from __future__ import annotations

import pytest

from hookline.delivery.outcome import Outcome
from hookline.delivery.worker import decide
from hookline.models import (
    AttemptTrigger,
    DeliveryOptions,
    DeliveryStatus,
    Endpoint,
    ErrorKind,
    Message,
)
from hookline.store.core import Claim

STARTED = 1_000_000.0
HEADERS = {"webhook-id": "msg_1"}


def claim(attempt_number: int = 1, schedule: list[float] | None = None,
          trigger: AttemptTrigger = AttemptTrigger.SCHEDULED) -> Claim:
    endpoint = Endpoint(id="ep_1", app_id="app_1", url="https://example.com/hook", secret="s",
                        options=DeliveryOptions(retry_schedule=schedule))
    message = Message(id="msg_1", app_id="app_1", event_type="order.paid", payload={})
    return Claim(delivery_id="dlv_1", attempt_number=attempt_number, attempt_id="atmpt_1",
                 trigger=trigger, lease_id="lease_1", message=message, endpoint=endpoint)


def test_a_2xx_answer_succeeds_the_delivery_with_nothing_more_due() -> None:
    result = decide(claim(), Outcome.answered(204, "", duration_ms=30), STARTED, HEADERS)
    assert result.status is DeliveryStatus.SUCCEEDED
    assert result.next_attempt_at is None
    assert result.lease_id == "lease_1"
    assert result.attempt.succeeded and result.attempt.status_code == 204


def test_the_attempt_records_what_was_sent_and_what_came_back() -> None:
    result = decide(claim(attempt_number=2, trigger=AttemptTrigger.MANUAL),
                    Outcome.answered(500, "boom", duration_ms=120), STARTED, HEADERS)
    attempt = result.attempt
    assert (attempt.id, attempt.delivery_id, attempt.message_id, attempt.endpoint_id,
            attempt.app_id) == ("atmpt_1", "dlv_1", "msg_1", "ep_1", "app_1")
    assert attempt.url == "https://example.com/hook"
    assert attempt.created_at == STARTED and attempt.duration_ms == 120
    assert attempt.attempt_number == 2 and attempt.trigger is AttemptTrigger.MANUAL
    assert attempt.response_body == "boom" and attempt.request_headers == HEADERS
    assert attempt.error_kind == "http_status" and not attempt.succeeded


@pytest.mark.parametrize("attempt_number,base", [(1, 1.0), (2, 2.0), (3, 4.0)])
def test_a_retryable_failure_is_due_again_after_the_schedules_delay_with_jitter(
        attempt_number: int, base: float) -> None:
    result = decide(claim(attempt_number, schedule=[1, 2, 4]),
                    Outcome.answered(503, "", duration_ms=5000), STARTED, HEADERS)
    assert result.status is DeliveryStatus.PENDING
    assert result.next_attempt_at is not None
    # The delay counts from when the attempt ended (started + its duration), ±10 % jitter.
    delay = result.next_attempt_at - (STARTED + 5.0)
    assert base * 0.9 <= delay <= base * 1.1


def test_a_connection_error_is_retried_like_an_error_status() -> None:
    outcome = Outcome.error(ErrorKind.CONNECTION_REFUSED, "refused", duration_ms=1)
    result = decide(claim(schedule=[10]), outcome, STARTED, HEADERS)
    assert result.status is DeliveryStatus.PENDING
    assert result.attempt.error_kind == "connection_refused"


def test_retry_after_pushes_the_next_attempt_out() -> None:
    outcome = Outcome.answered(429, "", duration_ms=0, retry_after=30.0)
    result = decide(claim(schedule=[1, 60]), outcome, STARTED, HEADERS)
    assert result.next_attempt_at == pytest.approx(STARTED + 30.0)


def test_retry_after_is_clamped_to_the_schedules_longest_delay() -> None:
    outcome = Outcome.answered(429, "", duration_ms=0, retry_after=86_400.0)
    result = decide(claim(schedule=[1, 60]), outcome, STARTED, HEADERS)
    assert result.next_attempt_at is not None
    assert 60 * 0.9 <= result.next_attempt_at - STARTED <= 60.0


def test_retry_after_never_brings_the_next_attempt_forward() -> None:
    outcome = Outcome.answered(429, "", duration_ms=0, retry_after=0.0)
    result = decide(claim(schedule=[100]), outcome, STARTED, HEADERS)
    assert result.next_attempt_at is not None
    assert result.next_attempt_at - STARTED >= 90.0


def test_a_failure_after_the_last_scheduled_retry_fails_the_delivery() -> None:
    # A schedule of two delays allows three attempts; the third failing is the end.
    result = decide(claim(attempt_number=3, schedule=[1, 2]),
                    Outcome.answered(500, "", duration_ms=1), STARTED, HEADERS)
    assert result.status is DeliveryStatus.FAILED
    assert result.next_attempt_at is None
    assert not result.attempt.succeeded


def test_a_failure_before_the_schedule_runs_out_is_not_the_end() -> None:
    result = decide(claim(attempt_number=2, schedule=[1, 2]),
                    Outcome.answered(500, "", duration_ms=1), STARTED, HEADERS)
    assert result.status is DeliveryStatus.PENDING


def test_a_non_retryable_failure_fails_the_delivery_at_once() -> None:
    outcome = Outcome.error(ErrorKind.BLOCKED, "blocked by egress policy", duration_ms=0)
    assert not outcome.retryable
    result = decide(claim(attempt_number=1, schedule=[1, 2, 3]), outcome, STARTED, HEADERS)
    assert result.status is DeliveryStatus.FAILED
    assert result.next_attempt_at is None
    assert result.attempt.error_kind == "blocked"
