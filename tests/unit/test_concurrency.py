"""Adaptive concurrency (delivery/concurrency.py): AIMD within an endpoint's cap."""

from __future__ import annotations

from hookline.delivery.concurrency import AdaptiveLimits
from hookline.delivery.outcome import Outcome
from hookline.models import ErrorKind

CAP = 32
OK = Outcome.answered(200, "", duration_ms=10)


def _limits_after(*outcomes: Outcome, spacing: float = 1.0) -> AdaptiveLimits:
    limits = AdaptiveLimits()
    for n, outcome in enumerate(outcomes):
        limits.observe("ep", CAP, outcome, now=n * spacing)
    return limits


def test_an_endpoint_starts_at_its_cap_and_healthy_answers_keep_it_there() -> None:
    assert AdaptiveLimits().limit("ep", CAP) == CAP
    assert _limits_after(*[OK] * 50).limit("ep", CAP) == CAP


def test_each_sign_of_trouble_halves_the_limit_down_to_one() -> None:
    for trouble in (Outcome.answered(500, "", duration_ms=5),
                    Outcome.answered(503, "", duration_ms=5),
                    Outcome.answered(429, "", duration_ms=5, retry_after=1),
                    Outcome.error(ErrorKind.TIMEOUT, "timed out", duration_ms=15_000),
                    Outcome.error(ErrorKind.CONNECTION_REFUSED, "refused", duration_ms=1)):
        assert _limits_after(trouble).limit("ep", CAP) == CAP // 2
        assert _limits_after(*[trouble] * 10, spacing=60).limit("ep", CAP) == 1


def test_a_refusal_that_says_nothing_about_load_changes_nothing() -> None:
    refused = Outcome.answered(400, "bad payload", duration_ms=5)
    assert _limits_after(*[refused] * 10).limit("ep", CAP) == CAP


def test_answers_of_one_round_trip_halve_the_limit_once() -> None:
    """The requests in flight when the first failed answer for the same moment."""
    failed = Outcome.answered(500, "", duration_ms=200)
    limits = AdaptiveLimits()
    for n in range(16):
        limits.observe("ep", CAP, failed, now=10 + n * 0.01)  # within 200 ms of the first
    assert limits.limit("ep", CAP) == CAP // 2
    limits.observe("ep", CAP, failed, now=10.3)
    assert limits.limit("ep", CAP) == CAP // 4


def test_the_limit_grows_back_by_one_per_limits_worth_of_good_answers() -> None:
    limits = _limits_after(*[Outcome.answered(500, "", duration_ms=5)] * 10)
    assert limits.limit("ep", CAP) == 1
    limits.observe("ep", CAP, OK, now=100)
    assert limits.limit("ep", CAP) == 2
    for n in range(3):  # + 1/2, + 1/2.5, + 1/2.9
        limits.observe("ep", CAP, OK, now=101 + n)
    assert limits.limit("ep", CAP) == 3
    for n in range(2_000):
        limits.observe("ep", CAP, OK, now=200 + n)
    assert limits.limit("ep", CAP) == CAP  # and never above it


def test_a_success_far_slower_than_usual_is_a_sign_of_trouble() -> None:
    limits = _limits_after(*[Outcome.answered(200, "", duration_ms=100)] * 20)
    limits.observe("ep", CAP, Outcome.answered(200, "", duration_ms=180), now=100)
    assert limits.limit("ep", CAP) == CAP  # within twice the usual
    limits.observe("ep", CAP, Outcome.answered(200, "", duration_ms=900), now=101)
    assert limits.limit("ep", CAP) == CAP // 2


def test_a_partner_slower_for_good_stops_counting_as_in_trouble() -> None:
    limits = AdaptiveLimits()
    for n in range(1_000):
        limits.observe("ep", CAP, Outcome.answered(200, "", duration_ms=20 if n < 20 else 900),
                       now=n)
    assert limits.limit("ep", CAP) == CAP  # halved a few times, then grew back


def test_a_lowered_cap_bounds_the_limit_and_the_memory_is_bounded() -> None:
    limits = AdaptiveLimits(size=2)
    limits.observe("a", CAP, OK, now=0)
    assert limits.limit("a", 4) == 4
    limits.observe("b", CAP, Outcome.answered(500, "", duration_ms=5), now=0)
    limits.observe("c", CAP, Outcome.answered(500, "", duration_ms=5), now=0)
    limits.observe("b", CAP, OK, now=1)  # b heard from lately, so a is forgotten first
    limits.observe("d", CAP, Outcome.answered(500, "", duration_ms=5), now=2)
    assert (limits.limit("b", CAP), limits.limit("c", CAP), limits.limit("d", CAP)) == (
        CAP // 2, CAP, CAP // 2)
