"""The API accepts what its OpenAPI document declares, and declares what it enforces."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiServer
from tests.support.receiver import Receiver

METHODS = {"get", "head", "post", "put", "patch", "delete"}


async def openapi(api: ApiServer) -> dict[str, Any]:
    document: dict[str, Any] = (await api.get("/openapi.json")).body
    return document


async def test_unsupported_methods_answer_405_naming_the_methods_of_every_path(
    api: ApiServer,
) -> None:
    paths = (await openapi(api))["paths"]
    for template, item in paths.items():
        path = "/".join("x" if part.startswith("{") else part for part in template.split("/"))
        for method in ("TRACE", "OPTIONS"):
            response = await api.request(method, path)
            assert response.status == 405, (method, template, response.body)
            assert response.headers["Content-Type"] == "application/problem+json"
            declared = {m.upper() for m in item if m in METHODS}
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed == declared, (template, allowed, declared)


async def test_a_boolean_field_takes_only_json_booleans(api: ApiServer) -> None:
    app = (await api.post("/api/v1/app", {"name": "strict"})).body["id"]
    for falsy in (0, "false", None):
        refused = await api.post(f"/api/v1/app/{app}/token", {"readOnly": falsy})
        assert refused.status == 422 and refused.body["field"] == "readOnly", refused.body
    assert (await api.post(f"/api/v1/app/{app}/token", {"readOnly": True})).status == 201
    refused = await api.post("/api/v1/event-type",
                             {"name": "a.b", "description": "d", "deprecated": 0})
    assert refused.status == 422 and refused.body["field"] == "deprecated"
    assert (await api.post("/api/v1/event-type",
                           {"name": "a.b", "description": "d", "deprecated": False})
            ).status == 201


async def test_an_integer_field_takes_integral_numbers_only(api: ApiServer) -> None:
    for wrong in (True, "5", 5.5):
        refused = await api.post("/api/v1/app", {"name": "n", "rateLimit": wrong})
        assert refused.status == 422 and refused.body["field"] == "rateLimit", wrong
    created = await api.post("/api/v1/app", {"name": "n", "rateLimit": 5.0})
    assert created.status == 201 and created.body["rateLimit"] == 5


async def test_a_date_time_is_rfc3339_text_with_an_offset(api: ApiServer) -> None:
    app = (await api.post("/api/v1/app", {"name": "times"})).body["id"]
    for wrong in ("0.5", "1700000000", "2026-01-31", "2026-01-31T12:00:00",
                  "0001-01-01T00:00:00+01:00"):
        refused = await api.get(f"/api/v1/app/{app}/msg?before={wrong.replace('+', '%2B')}")
        assert refused.status == 422 and refused.body["field"] == "before", wrong
    for right in ("2026-01-31T12:00:00Z", "2026-01-31t12:00:00.5%2B02:00"):
        assert (await api.get(f"/api/v1/app/{app}/msg?before={right}")).status == 200, right


async def test_until_before_since_is_refused(api: ApiServer, receiver: Receiver) -> None:
    app = (await api.post("/api/v1/app", {"name": "window"})).body["id"]
    ep = (await api.post(f"/api/v1/app/{app}/endpoint", {"url": receiver.url()})).body["id"]
    window = "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"
    stats = await api.get(f"/api/v1/app/{app}/endpoint/{ep}/stats?{window}")
    assert stats.status == 422 and stats.body["field"] == "until"
    recover = await api.post(f"/api/v1/app/{app}/endpoint/{ep}/recover",
                             {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert recover.status == 422 and recover.body["field"] == "until"


async def test_an_undeclared_field_is_refused(api: ApiServer) -> None:
    refused = await api.post("/api/v1/app", {"name": "typo", "rateLimt": 5})
    assert refused.status == 422 and refused.body["field"] == "rateLimt"
    schema = (await openapi(api))["components"]["schemas"]
    assert schema["ApplicationIn"]["additionalProperties"] is False


async def test_fields_svix_sdks_send_are_declared_and_accepted(api: ApiServer) -> None:
    app = (await api.post("/api/v1/app", {"name": "sdk"})).body["id"]
    sent = await api.post(f"/api/v1/app/{app}/msg", {
        "eventType": "a.b", "payload": {}, "application": {"name": "sdk"},
        "deliverAt": "2026-01-01T00:00:00Z", "payloadRetentionHours": 24,
        "transformationsParams": {}})
    assert sent.status == 202, sent.body
    portal = await api.post(f"/api/v1/auth/app-portal-access/{app}", {
        "featureFlags": [], "capabilities": ["ViewBase"], "sessionId": "s"})
    assert portal.status == 200, portal.body
    schemas = (await openapi(api))["components"]["schemas"]
    assert {"application", "deliverAt", "payloadRetentionHours",
            "transformationsParams"} <= set(schemas["MessageIn"]["properties"])


async def test_the_document_declares_the_patterns_the_server_enforces(api: ApiServer) -> None:
    schemas = (await openapi(api))["components"]["schemas"]

    def option(model: str, field: str) -> dict[str, Any]:
        prop: dict[str, Any] = schemas[model]["properties"][field]
        return next((o for o in prop.get("anyOf", [prop]) if o.get("type") == "string"), prop)

    assert option("ApplicationIn", "uid")["pattern"] == r"^[a-zA-Z0-9\-_.]{1,256}$"
    assert option("EventTypeIn", "name")["pattern"] == r"^[a-zA-Z0-9\-_.]{1,256}$"
    assert option("EndpointIn", "url")["pattern"].startswith("^[hH][tT][tT][pP][sS]?://")
    assert option("ApplicationIn", "name")["pattern"] == "^[^\\u0000]*$"
    for uid in ("é", "a b", "x/y"):
        assert (await api.post("/api/v1/app", {"name": "p", "uid": uid})).status == 422, uid
    assert (await api.post("/api/v1/app", {"name": "a\x00b"})).status == 422
    assert (await api.post("/api/v1/event-type", {"name": "a*", "description": "d"})).status == 422
    created = await api.post("/api/v1/app", {"name": "x"})
    refused = await api.post(f"/api/v1/app/{created.body['id']}/endpoint",
                             {"url": "ftp://127.0.0.1/"})
    assert refused.status == 422 and refused.body["field"] == "url"


async def test_a_query_parameter_given_twice_is_refused_unless_it_is_a_list(
    api: ApiServer,
) -> None:
    app = (await api.post("/api/v1/app", {"name": "query"})).body["id"]
    refused = await api.get(f"/api/v1/app/{app}/msg?iterator=a&iterator=b")
    assert refused.status == 422 and refused.body["field"] == "iterator"
    listed = await api.get(f"/api/v1/app/{app}/msg?event_types=a.b&event_types=c.d")
    assert listed.status == 200


async def test_an_event_type_filter_in_a_query_follows_the_name_pattern(api: ApiServer) -> None:
    app = (await api.post("/api/v1/app", {"name": "filter"})).body["id"]
    assert (await api.get(f"/api/v1/app/{app}/msg?event_types=a.b,c.*")).status == 200
    refused = await api.get(f"/api/v1/app/{app}/msg?event_types=1e%2B16")
    assert refused.status == 422 and refused.body["field"].startswith("event_types")


async def test_a_schema_version_that_is_a_digit_but_not_a_number_is_kept(
    api: ApiServer,
) -> None:
    """Found by `make fuzz`: "²".isdigit() is true, and int("²") raised (500)."""
    created = await api.post("/api/v1/event-type", {
        "name": "v.two", "description": "d",
        "schemas": {"²": {"type": "object"}, "1": {"type": "object"}}})
    assert created.status == 201, created.body
