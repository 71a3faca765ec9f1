"""The send path with the network stood in for by a plain function (`MockTransport`): the
worker and the test send hand the same prepared, signed request to the transport, with the
same deadline, and store what it answered the same way. Real databases, no patching."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from hookline.config import Settings
from hookline.delivery.outcome import Outcome
from hookline.delivery.request import LEASE_SHARE, PreparedRequest
from hookline.delivery.transport import MockTransport
from hookline.models import Attempt, DeliveryOptions, ErrorKind
from hookline.redaction import REDACTED
from hookline.runtime import Runtime
from tests.support.polling import wait_until

URL = "https://hooks.example.test/in"  # never reached: the transport is a function


@dataclass
class Network:
    """Answers every request with `answer` and remembers what it was sent."""

    answer: Outcome
    sent: list[tuple[PreparedRequest, float]] = field(default_factory=list)

    async def __call__(self, request: PreparedRequest, deadline: float) -> Outcome:
        self.sent.append((request, deadline))
        return self.answer


@pytest.fixture
def network() -> Network:
    return Network(Outcome.answered(204, "thanks", 7))


@pytest.fixture
async def offline(settings: Settings, network: Network) -> AsyncIterator[Runtime]:
    runtime = await Runtime.start(settings, sender=MockTransport(network))
    yield runtime
    await runtime.stop()


async def _endpoint_id(runtime: Runtime, app_id: str) -> str:
    endpoint = await runtime.service.create_endpoint(
        app_id, url=URL, headers={"Authorization": "Bearer partner-key", "X-Team": "billing"},
        options=DeliveryOptions(timeout=3.0))
    return endpoint.id


async def _attempts(runtime: Runtime, app_id: str) -> list[Attempt]:
    """Stored attempts: each is stored with its outcome, once its request has ended."""
    page = await runtime.service.list_attempts(app_id, None, None)
    return page.data


async def test_the_worker_sends_the_signed_request_to_the_transport_and_stores_its_answer(
    offline: Runtime, network: Network
) -> None:
    app = await offline.service.create_app("shop")
    endpoint_id = await _endpoint_id(offline, app.id)

    published = await offline.service.publish(app.id, "invoice.paid", {"id": "in_1"})
    attempts = await wait_until(lambda: _attempts(offline, app.id), what="one stored attempt")

    request, deadline = network.sent[0]
    assert request.url == URL
    assert json.loads(request.body)["data"] == {"id": "in_1"}
    assert request.headers["webhook-id"] == published.message.id
    assert deadline == min(3.0, offline.settings.lease_seconds * LEASE_SHARE)
    [attempt] = attempts
    assert (attempt.endpoint_id, attempt.status_code, attempt.response_body) == (
        endpoint_id, 204, "thanks")
    assert attempt.succeeded
    assert attempt.request_headers["Authorization"] == REDACTED
    assert attempt.request_headers["webhook-signature"] == request.headers["webhook-signature"]


async def test_a_refusal_no_retry_can_fix_fails_the_delivery_at_its_first_attempt(
    offline: Runtime, network: Network
) -> None:
    network.answer = Outcome.error(ErrorKind.BLOCKED, "blocked by egress policy", 0)
    app = await offline.service.create_app("shop")
    endpoint_id = await _endpoint_id(offline, app.id)

    await offline.service.publish(app.id, "invoice.paid", {"id": "in_1"})
    [attempt] = await wait_until(lambda: _attempts(offline, app.id), what="one stored attempt")

    stats = await offline.service.endpoint_stats(app.id, endpoint_id)
    assert stats.deliveries["fail"] == 1
    assert attempt.error_kind == "blocked"
    assert attempt.error_detail == "blocked by egress policy"
    assert not attempt.succeeded
    assert len(network.sent) == 1


async def test_a_test_send_goes_through_the_same_transport_and_is_stored_as_a_test(
    offline: Runtime, network: Network
) -> None:
    app = await offline.service.create_app("shop")
    endpoint_id = await _endpoint_id(offline, app.id)

    attempt = await offline.service.send_example(app.id, endpoint_id, "invoice.paid",
                                                 {"id": "in_2"})

    [(request, deadline)] = network.sent
    assert json.loads(request.body)["data"] == {"id": "in_2"}
    assert deadline == min(3.0, offline.settings.lease_seconds * LEASE_SHARE)
    assert (attempt.trigger, attempt.status_code, attempt.duration_ms) == ("test", 204, 7)
    assert attempt.request_headers["Authorization"] == REDACTED
    assert attempt.request_headers["X-Team"] == "billing"
    assert [a.id for a in await _attempts(offline, app.id)] == [attempt.id]
