"""Smile-shaped registration: `POST /v1/webhooks` with an application token, Smile's envelope
and its HMAC-SHA512 `Smile-Signature`, as Smile's public webhook specification describes."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from tests.support.api import ApiServer
from tests.support.receiver import Receiver

SECRET = "a little secret"  # the seed's own example


async def partner(api: ApiServer, name: str = "partner") -> tuple[dict[str, Any], str]:
    app = (await api.post("/api/v1/app", {"name": name})).body
    token = (await api.post(f"/api/v1/app/{app['id']}/token", {"name": "smile"})).body
    return app, token["token"]


def smile_signature_verifies(body: bytes, signature: str, secret: str) -> bool:
    """The seed's Java and Node samples: HMAC-SHA512 of the raw body, hex, secret's bytes."""
    expected = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, signature)


async def test_an_all_events_webhook_receives_a_type_created_after_it_signed_as_smile_does(
    api: ApiServer, receiver: Receiver
) -> None:
    app, token = await partner(api)
    registered = await api.post("/v1/webhooks", {
        "name": "Event Notification Postback", "url": receiver.url("/smile"),
        "eventTypes": ["ALL_EVENTS"], "active": True, "secret": SECRET}, token=token)
    assert registered.status == 201, registered.body
    assert registered.body["eventTypes"] == ["ALL_EVENTS"] and registered.body["active"]

    await api.post("/api/v1/event-type", {"name": "RATING_ADDED", "description": "new"})
    msg = await api.post(f"/api/v1/app/{app['id']}/msg",
                         {"eventType": "RATING_ADDED", "eventId": "et-123abc",
                          "payload": {"userId": "tenantId-1", "ratingId": "r-1"}})
    assert msg.status == 202
    [request] = await receiver.wait_for(1, "/smile")
    assert smile_signature_verifies(request.body, request.headers["Smile-Signature"], SECRET)
    envelope = json.loads(request.body)
    assert envelope == {"id": "et-123abc", "version": 1, "type": "RATING_ADDED",
                        "createdAt": envelope["createdAt"],
                        "data": {"userId": "tenantId-1", "ratingId": "r-1"}}
    assert envelope["createdAt"].endswith("Z")

    endpoint = (await api.get(f"/api/v1/app/{app['id']}/endpoint/{registered.body['id']}")
                ).body
    assert (endpoint["envelope"], endpoint["signatureScheme"], endpoint["signatureHeader"]) == \
        ("smile", "hmac-sha512-hex", "Smile-Signature")
    assert endpoint["retrySchedule"] == [30.0, 30.0]


async def test_comma_separated_event_types_filter_what_is_delivered(
    api: ApiServer, receiver: Receiver
) -> None:
    app, token = await partner(api)
    registered = await api.post("/v1/webhooks", {
        "name": "two types", "url": receiver.url("/two"),
        "eventTypes": "ACCOUNT_CONNECTED, IDENTITY_ADDED", "secret": SECRET}, token=token)
    assert registered.body["eventTypes"] == ["ACCOUNT_CONNECTED", "IDENTITY_ADDED"]
    for event_type in ("USER_CREATED", "IDENTITY_ADDED", "ACCOUNT_CONNECTED"):
        await api.post(f"/api/v1/app/{app['id']}/msg",
                       {"eventType": event_type, "payload": {"userId": "u"}})
    got = await receiver.wait_for(2, "/two")
    assert sorted(json.loads(r.body)["type"] for r in got) == ["ACCOUNT_CONNECTED",
                                                               "IDENTITY_ADDED"]
    assert sum((await api.runtime.store.delivery_counts()).values()) == 2


async def test_webhooks_can_be_read_updated_deactivated_and_deleted(
    api: ApiServer, receiver: Receiver
) -> None:
    app, token = await partner(api)
    created = (await api.post("/v1/webhooks", {
        "name": "inactive", "url": receiver.url("/later"), "eventTypes": ["ALL_EVENTS"],
        "active": False, "secret": SECRET}, token=token)).body
    assert created["active"] is False
    assert [w["id"] for w in (await api.get("/v1/webhooks", token=token)).body] == [
        created["id"]]

    updated = await api.put(f"/v1/webhooks/{created['id']}", {
        "name": "active now", "url": receiver.url("/now"), "eventTypes": ["USER_CREATED"],
        "active": True, "secret": "another little secret"}, token=token)
    assert updated.status == 200, updated.body
    assert (updated.body["name"], updated.body["active"]) == ("active now", True)
    assert (await api.get(f"/v1/webhooks/{created['id']}", token=token)).body == updated.body

    await api.post(f"/api/v1/app/{app['id']}/msg",
                   {"eventType": "USER_CREATED", "payload": {"userId": "u"}})
    [request] = await receiver.wait_for(1, "/now")
    assert smile_signature_verifies(request.body, request.headers["Smile-Signature"],
                                    "another little secret")

    assert (await api.delete(f"/v1/webhooks/{created['id']}", token=token)).status == 204
    assert (await api.get(f"/v1/webhooks/{created['id']}", token=token)).status == 404


async def test_the_smile_routes_need_an_application_token(api: ApiServer) -> None:
    response = await api.get("/v1/webhooks")  # the admin token names no application
    assert response.status == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    _, token = await partner(api)
    empty = await api.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "eventTypes": ""},
                           token=token)
    assert empty.status == 422 and empty.body["field"] == "eventTypes"
