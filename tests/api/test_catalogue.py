"""The event type catalogue: import/export, schemas checked at publish, deprecation, wildcards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.api import ApiServer
from tests.support.receiver import Receiver

SMILE_CATALOGUE = Path(__file__).parent / "fixtures" / "smile_catalogue.json"


def smile_catalogue() -> dict[str, Any]:
    return dict(json.loads(SMILE_CATALOGUE.read_text()))


async def test_the_smile_catalogue_imports_in_one_call_and_exports_back(api: ApiServer) -> None:
    catalogue = smile_catalogue()
    imported = await api.post("/api/v1/event-type/import", catalogue)
    assert imported.status == 200, imported.body
    assert imported.body == {"created": 31, "updated": 0, "total": 31}

    listed = (await api.get("/api/v1/event-type?limit=100")).body["data"]
    by_name = {et["name"]: et for et in listed}
    with_examples = {name for name, et in by_name.items() if et["example"]}
    assert len(with_examples) == 25 and {"USER_CREATED", "LINK_ADDED"} <= with_examples
    assert by_name["ACCOUNT_FAILED"]["example"]["errorCode"] == "INVALID_CREDENTIALS"
    assert by_name["ACCOUNT_FAILED"]["groupName"] == "Accounts"
    deprecated = {name for name, et in by_name.items() if et["deprecated"]}
    assert deprecated == {"CONTRIBUTIONS_UPDATED", "INCOMES_UPDATED", "DOCUMENTS_UPDATED",
                          "EMPLOYMENTS_UPDATED", "EINCOMES_UPDATED", "LIABILITIES_UPDATED"}

    again = await api.post("/api/v1/event-type/import", catalogue["eventTypes"])  # a bare list
    assert again.body == {"created": 0, "updated": 31, "total": 31}

    exported = (await api.get("/api/v1/event-type/export")).body
    assert len(exported["eventTypes"]) == 31
    assert {et["name"]: et["example"] for et in exported["eventTypes"]} == {
        et["name"]: et.get("example") for et in catalogue["eventTypes"]}
    round_trip = await api.post("/api/v1/event-type/import", exported)
    assert round_trip.body["updated"] == 31


async def test_an_import_with_one_bad_type_changes_nothing(api: ApiServer) -> None:
    types = smile_catalogue()["eventTypes"][:3]
    types.append({"name": "BROKEN", "schema": {"type": "object", "required": ["x"]},
                  "example": {"y": 1}})
    response = await api.post("/api/v1/event-type/import", {"eventTypes": types})
    assert response.status == 422 and response.body["field"] == "example"
    assert (await api.get("/api/v1/event-type")).body["data"] == []


async def test_publish_checks_the_payload_against_the_event_types_schema(
    api: ApiServer,
) -> None:
    await api.post("/api/v1/event-type/import", smile_catalogue())
    app = (await api.post("/api/v1/app", {"name": "smile"})).body
    bad = await api.post(f"/api/v1/app/{app['id']}/msg",
                         {"eventType": "ACCOUNT_CREATED",
                          "payload": {"userId": "u", "accountId": "a", "providers": [7]}})
    assert bad.status == 422 and bad.body["field"] == "payload.providers[0]"
    assert bad.headers["Content-Type"] == "application/problem+json"
    good = await api.post(f"/api/v1/app/{app['id']}/msg",
                          {"eventType": "ACCOUNT_CREATED",
                           "payload": {"userId": "u", "accountId": "a", "providers": ["x"]}})
    assert good.status == 202


async def test_strict_mode_refuses_event_types_not_in_the_catalogue(api: ApiServer) -> None:
    service = api.runtime.service
    app = (await api.post("/api/v1/app", {"name": "strict"})).body
    await api.post("/api/v1/event-type", {"name": "known.type", "description": "d"})
    message = {"eventType": "unknown.type", "payload": {}}
    assert (await api.post(f"/api/v1/app/{app['id']}/msg", message)).status == 202

    service.settings = service.settings.with_(strict_event_types=True)
    refused = await api.post(f"/api/v1/app/{app['id']}/msg", message)
    assert refused.status == 422 and refused.body["field"] == "eventType"
    known = await api.post(f"/api/v1/app/{app['id']}/msg",
                           {"eventType": "known.type", "payload": {}})
    assert known.status == 202


async def test_deprecated_types_still_deliver_and_wildcard_filters_match_groups(
    api: ApiServer, receiver: Receiver
) -> None:
    await api.post("/api/v1/event-type/import", smile_catalogue())
    app = (await api.post("/api/v1/app", {"name": "filters"})).body
    base = f"/api/v1/app/{app['id']}"
    await api.post(f"{base}/endpoint", {"url": receiver.url("/incomes"),
                                        "filterTypes": ["INCOMES_*"]})
    await api.post(f"{base}/endpoint", {"url": receiver.url("/customers"),
                                        "eventTypes": ["customer.*"]})
    for event_type in ("INCOMES_UPDATED", "INCOMES_ADDED", "ACCOUNT_CREATED",
                       "customer.created", "order.created"):
        payload = {"userId": "u", "accountId": "a", "count": 1, "providers": []}
        response = await api.post(f"{base}/msg", {"eventType": event_type, "payload": payload})
        assert response.status == 202, response.body

    # Fan-out is decided when a message is published: exactly three deliveries exist.
    assert sum((await api.runtime.store.delivery_counts()).values()) == 3
    incomes = await receiver.wait_for(2, "/incomes")
    customers = await receiver.wait_for(1, "/customers")
    assert sorted(json.loads(r.body)["type"] for r in incomes) == [
        "INCOMES_ADDED", "INCOMES_UPDATED"]
    assert [json.loads(r.body)["type"] for r in customers] == ["customer.created"]
