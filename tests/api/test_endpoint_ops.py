"""Endpoint operations through the API: secret rotation, statistics and health, test sends,
custom headers, disable and re-enable."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hookline.config import Settings
from tests.support.api import ADMIN_TOKEN, ApiServer
from tests.support.clock import FakeClock, start_runtime_on
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver


async def new_endpoint(api: ApiServer, receiver: Receiver, path: str,
                       **fields: Any) -> tuple[str, dict[str, Any]]:
    app = (await api.post("/api/v1/app", {"name": path.strip("/")})).body
    ep = await api.post(f"/api/v1/app/{app['id']}/endpoint",
                        {"url": receiver.url(path), **fields})
    assert ep.status == 201, ep.body
    return f"/api/v1/app/{app['id']}", ep.body


async def test_during_rotation_old_and_new_secrets_both_verify_the_same_request(
    api: ApiServer, receiver: Receiver
) -> None:
    base, ep = await new_endpoint(api, receiver, "/rotate")
    old = (await api.get(f"{base}/endpoint/{ep['id']}/secret")).body["key"]
    rotated = await api.post(f"{base}/endpoint/{ep['id']}/secret/rotate", {})
    new = rotated.body["key"]
    assert rotated.status == 200 and new != old

    await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {"n": 1}})
    [request] = await receiver.wait_for(1, "/rotate")
    assert len(request.headers["webhook-signature"].split()) == 2
    assert Webhook(old).verify(request.body, request.headers) == \
        Webhook(new).verify(request.body, request.headers)

    # A rotation without grace retires the previous secret at once.
    newest = (await api.post(f"{base}/endpoint/{ep['id']}/secret/rotate",
                             {"gracePeriodSeconds": 0})).body["key"]
    await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {"n": 2}})
    request = (await receiver.wait_for(2, "/rotate"))[1]
    Webhook(newest).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(request.body, request.headers)


async def test_rotation_to_a_chosen_key_signs_with_that_key(api: ApiServer,
                                                            receiver: Receiver) -> None:
    base, ep = await new_endpoint(api, receiver, "/chosen")
    chosen = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    response = await api.post(f"{base}/endpoint/{ep['id']}/secret/rotate", {"key": chosen})
    assert response.body == {"key": chosen}
    bad = await api.post(f"{base}/endpoint/{ep['id']}/secret/rotate", {"key": "short"})
    assert bad.status == 422 and bad.body["field"] == "secret"


async def stats(api: ApiServer, base: str, ep_id: str) -> dict[str, Any]:
    response = await api.get(f"{base}/endpoint/{ep_id}/stats")
    assert response.status == 200, response.body
    return dict(response.body)


async def test_health_is_green_yellow_then_red_as_failures_accumulate(
    api: ApiServer, receiver: Receiver
) -> None:
    base, ep = await new_endpoint(api, receiver, "/health", retrySchedule=[])
    app_id = base.rsplit("/", 1)[1]
    receiver.statuses["/health"] = [200]
    assert (await stats(api, base, ep["id"]))["health"] == "green"  # no traffic yet

    async def publish_and_wait(count: int) -> dict[str, Any]:
        await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {}})
        # Counts and streak are stored in one step: once recorded, one read sees both.
        await attempts_recorded(api.runtime.service, app_id, count, endpoint_id=ep["id"])
        return await stats(api, base, ep["id"])

    green = await publish_and_wait(1)
    assert green["health"] == "green" and green["success"] == 1
    assert green["last24h"] == {"succeeded": 1, "failed": 0, "total": 1, "successRate": 1.0}
    assert green["lastSuccessAt"] is not None and green["lastDeliveryAt"] is not None

    receiver.statuses["/health"] = [500]
    yellow = await publish_and_wait(2)
    assert yellow["health"] == "yellow" and yellow["fail"] == 1
    assert yellow["successRate24h"] == 0.5 and yellow["consecutiveFailures"] == 1

    await publish_and_wait(3)
    red = await publish_and_wait(4)
    assert red["health"] == "red" and red["consecutiveFailures"] == 3
    assert red["last7d"]["failed"] == 3

    receiver.statuses["/health"] = [200]
    recovered = await publish_and_wait(5)
    assert recovered["health"] == "yellow"  # succeeding again, failures still recent


async def test_a_disabled_endpoint_is_red(api: ApiServer, receiver: Receiver) -> None:
    base, ep = await new_endpoint(api, receiver, "/off")
    await api.patch(f"{base}/endpoint/{ep['id']}", {"disabled": True})
    assert (await stats(api, base, ep["id"]))["health"] == "red"


async def test_hourly_buckets_cover_the_last_day_oldest_first(api: ApiServer,
                                                              receiver: Receiver) -> None:
    base, ep = await new_endpoint(api, receiver, "/hourly")
    for n in range(3):
        await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {"n": n}})
    await attempts_recorded(api.runtime.service, base.rsplit("/", 1)[1], 3, endpoint_id=ep["id"])
    hours = (await api.get(f"{base}/endpoint/{ep['id']}/stats/hourly")).body
    assert len(hours) == 24 and hours[0]["start"] < hours[-1]["start"]
    assert hours[-1]["succeeded"] == 3 and sum(h["succeeded"] for h in hours) == 3
    buckets = await api.runtime.service.endpoint_hourly(base.rsplit("/", 1)[1], ep["id"], 6)
    assert len(buckets) == 6 and buckets[-1].succeeded == 3
    assert buckets[-1].start <= api.runtime.service.clock() < buckets[-1].start + 3600


async def test_send_example_returns_the_outcome_and_does_not_count_against_health(
    api: ApiServer, receiver: Receiver
) -> None:
    await api.post("/api/v1/event-type", {"name": "user.created", "description": "d",
                                          "example": {"userId": "u_1"}})
    base, ep = await new_endpoint(api, receiver, "/example")
    receiver.statuses["/example"] = [503]
    response = await api.post(f"{base}/endpoint/{ep['id']}/send-example",
                              {"eventType": "user.created"})
    assert response.status == 200, response.body
    assert response.body["payload"] == {"userId": "u_1"}
    attempt = response.body["attempt"]
    assert attempt["status"] == 2 and attempt["responseStatusCode"] == 503 and attempt["test"]
    assert len(receiver.at("/example")) == 1  # already delivered, synchronously

    custom = await api.post(f"{base}/endpoint/{ep['id']}/send-example",
                            {"eventType": "user.created", "payload": {"userId": "u_2"}})
    assert custom.body["payload"] == {"userId": "u_2"}
    current = await stats(api, base, ep["id"])
    assert current["health"] == "green" and current["consecutiveFailures"] == 0
    assert current["last24h"]["total"] == 0
    assert sum((await api.runtime.store.delivery_counts()).values()) == 0  # nothing retries
    listed = (await api.get(f"{base}/attempt/endpoint/{ep['id']}")).body["data"]
    assert [a["test"] for a in listed] == [True, True]

    missing = await api.post(f"{base}/endpoint/{ep['id']}/send-example",
                             {"eventType": "no.example"})
    assert missing.status == 422 and missing.body["field"] == "eventType"


async def test_custom_headers_are_sent_and_sensitive_values_are_never_shown(
    api: ApiServer, receiver: Receiver
) -> None:
    base, ep = await new_endpoint(api, receiver, "/headers")
    put = await api.put(f"{base}/endpoint/{ep['id']}/headers",
                        {"headers": {"X-Tenant": "t1", "X-Api-Key": "k-123"}})
    assert put.status == 204
    shown = (await api.get(f"{base}/endpoint/{ep['id']}/headers")).body
    assert shown == {"headers": {"X-Tenant": "t1"}, "sensitive": ["X-Api-Key"]}
    await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {}})
    [request] = await receiver.wait_for(1, "/headers")
    assert request.headers["X-Tenant"] == "t1" and request.headers["X-Api-Key"] == "k-123"


async def test_reenabling_through_the_api_resumes_pending_deliveries(
    settings: Settings, receiver: Receiver
) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    await runtime.service.ensure_admin_token()
    api = await ApiServer(runtime, ADMIN_TOKEN).start()
    try:
        base, ep = await new_endpoint(api, receiver, "/pause", retrySchedule=[60])
        app_id = base.rsplit("/", 1)[1]
        receiver.statuses["/pause"] = [500]
        msg = (await api.post(f"{base}/msg", {"eventType": "a.b", "payload": {}})).body
        await attempts_recorded(runtime.service, app_id, 1, endpoint_id=ep["id"])
        disabled = await api.patch(f"{base}/endpoint/{ep['id']}", {"disabled": True})
        assert disabled.body["disabled"]
        assert disabled.body["disabledReason"] == "disabled manually"
        receiver.statuses["/pause"] = [200]
        clock.advance(120)  # the retry falls due, and waits while the endpoint is disabled
        # A later message to another endpoint is a barrier: a claim that took it would have
        # taken the older retry too, and sent it at once.
        other_base, _ = await new_endpoint(api, receiver, "/other")
        await api.post(f"{other_base}/msg", {"eventType": "a.b", "payload": {}})
        await attempts_recorded(runtime.service, other_base.rsplit("/", 1)[1], 1)
        listed = await runtime.service.list_attempts(app_id, 10, None, endpoint_id=ep["id"])
        assert len(listed.data) == 1 and len(receiver.at("/pause")) == 1
        assert (await stats(api, base, ep["id"]))["pending"] == 1

        enabled = await api.patch(f"{base}/endpoint/{ep['id']}", {"disabled": False})
        assert enabled.body["disabled"] is False and enabled.body["disabledReason"] is None
        retried = await receiver.wait_for(2, "/pause")
        assert retried[1].headers["webhook-id"] == msg["id"]
    finally:
        await api.stop()
        await runtime.stop()
