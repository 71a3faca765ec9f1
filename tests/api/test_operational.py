"""Operational webhooks: the operator's endpoints hear about endpoint changes and failing
deliveries, signed like any webhook; nothing about the operational endpoints themselves."""

from __future__ import annotations

import json
from typing import Any

from standardwebhooks import Webhook

from tests.support.api import ApiServer
from tests.support.polling import deliveries_failed
from tests.support.receiver import Receiver

OPS = "/api/v1/operational-webhook/endpoint"


def events(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """Every event received at `path`, each verified with the operational endpoint's secret."""
    verifier = Webhook(secret)
    return [verifier.verify(r.body, r.headers) for r in receiver.at(path)]


def types_of(received: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in received]


async def operational_endpoint(api: ApiServer, receiver: Receiver, path: str,
                               **fields: Any) -> tuple[dict[str, Any], str]:
    created = await api.post(OPS, {"url": receiver.url(path), **fields})
    assert created.status == 201, created.body
    secret = (await api.get(f"{OPS}/{created.body['id']}/secret")).body["key"]
    return created.body, secret


async def test_endpoint_lifecycle_events_reach_the_operational_endpoint(
    api: ApiServer, receiver: Receiver
) -> None:
    _, secret = await operational_endpoint(api, receiver, "/ops")
    app = (await api.post("/api/v1/app", {"name": "Tenant", "uid": "tenant"})).body
    base = f"/api/v1/app/{app['id']}/endpoint"
    ep = (await api.post(base, {"url": receiver.url("/tenant"), "uid": "main"})).body
    await api.patch(f"{base}/{ep['id']}", {"description": "renamed"})
    await api.patch(f"{base}/{ep['id']}", {"disabled": True})
    await api.delete(f"{base}/{ep['id']}")

    await receiver.wait_for(5, "/ops")
    received = events(receiver, "/ops", secret)
    assert sorted(types_of(received)) == sorted(["endpoint.created", "endpoint.updated",
                                                 "endpoint.updated", "endpoint.disabled",
                                                 "endpoint.deleted"])
    created = next(e for e in received if e["type"] == "endpoint.created")
    assert created["data"] == {"appId": app["id"], "appUid": "tenant",
                               "endpointId": ep["id"], "endpointUid": "main"}
    disabled = next(e for e in received if e["type"] == "endpoint.disabled")
    assert disabled["data"]["trigger"] == "manual"


async def test_failing_and_exhausted_deliveries_and_automatic_disabling_are_reported(
    api: ApiServer, receiver: Receiver
) -> None:
    _, secret = await operational_endpoint(
        api, receiver, "/ops", filterTypes=["message.attempt.*", "endpoint.disabled"])
    app = (await api.post("/api/v1/app", {"name": "Flaky"})).body
    receiver.statuses["/down"] = [500]
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/down"), "retrySchedule": [0.05] * 4,
                          "disableAfterFailures": 5})).body
    msg = (await api.post(f"/api/v1/app/{app['id']}/msg",
                          {"eventType": "a.b", "payload": {}, "eventId": "evt-9"})).body

    await receiver.wait_for(5, "/down")
    await receiver.wait_for(3, "/ops", timeout=15)
    received = events(receiver, "/ops", secret)
    assert sorted(types_of(received)) == ["endpoint.disabled", "message.attempt.exhausted",
                                          "message.attempt.failing"]
    failing = next(e for e in received if e["type"] == "message.attempt.failing")
    assert failing["data"]["msgId"] == msg["id"] and failing["data"]["msgEventId"] == "evt-9"
    assert failing["data"]["endpointId"] == ep["id"]
    assert failing["data"]["lastAttempt"]["responseStatusCode"] == 500
    disabled = next(e for e in received if e["type"] == "endpoint.disabled")
    assert disabled["data"]["trigger"] == "automatic" and disabled["data"]["failSince"]


async def test_nothing_is_reported_about_the_operational_endpoints_themselves(
    api: ApiServer, receiver: Receiver
) -> None:
    _, secret = await operational_endpoint(api, receiver, "/ops")
    receiver.statuses["/ops-down"] = [500]
    down, _ = await operational_endpoint(api, receiver, "/ops-down",
                                         retrySchedule=[0.05] * 4)
    await api.put(f"{OPS}/{down['id']}", {"url": receiver.url("/ops-down"),
                                          "retrySchedule": [0.05] * 4})
    app = (await api.post("/api/v1/app", {"name": "Quiet"})).body
    await api.post(f"/api/v1/app/{app['id']}/endpoint", {"url": receiver.url("/quiet")})

    # The one event (endpoint.created) fails five times at /ops-down and is exhausted there.
    await receiver.wait_for(5, "/ops-down")
    operational_app = await api.runtime.service.operational.app()
    assert operational_app is not None
    await deliveries_failed(api.runtime.service, operational_app, down["id"], 1)
    # A later event, once delivered, shows everything published before it has been too.
    await api.post(f"/api/v1/app/{app['id']}/endpoint", {"url": receiver.url("/later")})
    await receiver.wait_for(2, "/ops")
    received = events(receiver, "/ops", secret)
    assert types_of(received) == ["endpoint.created", "endpoint.created"]
    assert json.loads(receiver.at("/ops")[0].body)["data"]["appId"] == app["id"]


async def test_the_operational_application_is_hidden_and_admin_only(api: ApiServer) -> None:
    await api.post(OPS, {"url": "http://127.0.0.1:9/ops"})
    apps = (await api.get("/api/v1/app")).body["data"]
    assert apps == []
    hidden = await api.get("/api/v1/app/__hookline_operational__")
    assert hidden.status == 404
    reserved = await api.post("/api/v1/app", {"name": "x", "uid": "__hookline_mine"})
    assert reserved.status == 422 and reserved.body["field"] == "uid"
    listed = (await api.get(OPS)).body["data"]
    assert [e["url"] for e in listed] == ["http://127.0.0.1:9/ops"]
