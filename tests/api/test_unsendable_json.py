"""JSON Hookline cannot deliver is refused at the door: NaN, Infinity, numbers beyond a double
(1e999) and lone UTF-16 surrogates get a 422 naming the field, wherever a JSON value comes in
(API or portal), and the client's keep-alive connection stays usable after the refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hookline.receiver import verify_signature
from tests.e2e.portal import csrf_token, portal_link
from tests.support.api import ApiServer
from tests.support.keepalive import KeepAliveClient, RawResponse
from tests.support.receiver import Receiver

# Raw JSON spellings Python's parser reads although RFC 8259 has no such value.
UNSENDABLE_VALUES = [b'"\\ud800"', b'"ok \\udfff"', b"NaN", b"Infinity", b"-Infinity", b"1e999"]
SURROGATE_KEY = b'"\\ud800"'  # as a key: the field named is the key's path, escaped
CASES = len(UNSENDABLE_VALUES) + 1


def bodies(template: bytes) -> list[tuple[bytes, str]]:
    """(request body, the field its 422 must name) for each unsendable value and key;
    `template` holds VALUE where the value goes and is a JSON object at `FIELD`."""
    cases = [(template.replace(b"VALUE", b'{"s": ' + value + b"}"), "s")
             for value in UNSENDABLE_VALUES]
    cases.append((template.replace(b"VALUE", b"{" + SURROGATE_KEY + b": 1}"), "\\ud800"))
    return cases


@pytest.fixture
async def conn(api: ApiServer) -> AsyncIterator[KeepAliveClient]:
    async with KeepAliveClient("127.0.0.1", api.port, api.token) as client:
        yield client


async def app_with_endpoint(api: ApiServer, url: str = "http://127.0.0.1:9/") -> tuple[str, str]:
    app = (await api.post("/api/v1/app", {"name": "unsendable"})).body["id"]
    ep = await api.post(f"/api/v1/app/{app}/endpoint", {"url": url})
    assert ep.status == 201, ep.body
    return app, ep.body["id"]


def assert_refused(response: RawResponse, field: str) -> None:
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field, problem
    assert problem["detail"].startswith(field + ":"), problem


async def refused_then_served(conn: KeepAliveClient, path: str, template: bytes, prefix: str,
                              good: bytes, good_status: int) -> None:
    """Every unsendable case is a 422 naming `prefix.<path>`, and the request after each one,
    on the same connection, is answered normally."""
    for body, inner in bodies(template):
        assert_refused(await conn.post_json(path, body), f"{prefix}.{inner}")
        served = await conn.post_json(path, good)
        assert served.status == good_status, served.body
    assert conn.requests == 2 * len(bodies(template))


async def test_message_payloads_that_cannot_be_sent_are_refused_naming_the_field(
        api: ApiServer, conn: KeepAliveClient) -> None:
    app, _ = await app_with_endpoint(api)

    await refused_then_served(
        conn, f"/api/v1/app/{app}/msg", b'{"eventType": "invoice.paid", "payload": VALUE}',
        "payload", b'{"eventType": "invoice.paid", "payload": {"n": 1.5}}', 202)

    listed = await api.get(f"/api/v1/app/{app}/msg")
    assert [m["payload"] for m in listed.body["data"]] == [{"n": 1.5}] * CASES


async def test_event_type_schemas_and_examples_that_cannot_be_sent_are_refused(
        api: ApiServer, conn: KeepAliveClient) -> None:
    for key in (b"schema", b"example"):
        created = b'{"name": "invoice.paid", "description": "paid", "' + key + b'": VALUE}'
        replaced = b'{"description": "paid", "' + key + b'": VALUE}'  # PUT names it in the path
        prefix = key.decode()
        for (body, inner), (put_body, _) in zip(bodies(created), bodies(replaced), strict=True):
            assert_refused(await conn.post_json("/api/v1/event-type", body),
                           f"{prefix}.{inner}")
            assert_refused(await conn.send("PUT", "/api/v1/event-type/invoice.paid", put_body),
                           f"{prefix}.{inner}")
            listed = await conn.send("GET", "/api/v1/event-type")
            assert listed.status == 200 and listed.json()["data"] == []


async def test_a_catalogue_import_with_an_unsendable_example_is_refused(
        api: ApiServer, conn: KeepAliveClient) -> None:
    await refused_then_served(
        conn, "/api/v1/event-type/import",
        b'{"eventTypes": [{"name": "invoice.paid", "example": VALUE}]}', "example",
        b'{"eventTypes": [{"name": "invoice.paid", "example": {"n": 1}}]}', 200)


async def test_a_test_send_with_an_unsendable_payload_is_refused(
        api: ApiServer, conn: KeepAliveClient, receiver: Receiver) -> None:
    app, ep = await app_with_endpoint(api, receiver.url("/example"))

    await refused_then_served(
        conn, f"/api/v1/app/{app}/endpoint/{ep}/send-example",
        b'{"eventType": "invoice.paid", "payload": VALUE}', "payload",
        b'{"eventType": "invoice.paid", "payload": {"n": 2}}', 200)

    assert [json.loads(r.body)["data"] for r in receiver.at("/example")] == [{"n": 2}] * CASES


async def test_delivery_options_that_are_not_finite_numbers_are_refused(
        api: ApiServer, conn: KeepAliveClient) -> None:
    app = (await api.post("/api/v1/app", {"name": "options"})).body["id"]
    path = f"/api/v1/app/{app}/endpoint"
    cases = [(b'"timeout": NaN', "timeout"), (b'"disableAfterSeconds": 1e999',
                                               "disableAfterSeconds"),
             (b'"disableAfterSeconds": NaN', "disableAfterSeconds"),
             (b'"retrySchedule": [1, Infinity]', "retrySchedule")]

    for option, field in cases:
        refused = await conn.post_json(path, b'{"url": "http://127.0.0.1:9/", ' + option + b"}")
        assert refused.status == 422, refused.body
        assert refused.json()["field"].startswith(field), refused.body
        created = await conn.post_json(path, b'{"url": "http://127.0.0.1:9/", "timeout": 5}')
        assert created.status == 201, created.body


async def test_a_smile_registration_with_unsendable_text_is_refused(
        api: ApiServer, conn: KeepAliveClient) -> None:
    app = (await api.post("/api/v1/app", {"name": "smile"})).body["id"]
    conn.token = (await api.post(f"/api/v1/app/{app}/token", {"name": "smile"})).body["token"]
    good = b'{"name": "ok", "url": "http://127.0.0.1:9/", "eventTypes": "ALL_EVENTS"}'

    for field, body in [
        ("name", b'{"name": "\\ud800", "url": "http://127.0.0.1:9/", "eventTypes": "a.b"}'),
        ("eventTypes", b'{"url": "http://127.0.0.1:9/", "eventTypes": ["\\udfff"]}'),
    ]:
        refused = await conn.post_json("/v1/webhooks", body)
        assert refused.status == 422, refused.body
        assert refused.json()["field"].startswith(field), refused.body
        assert (await conn.post_json("/v1/webhooks", good)).status == 201


async def test_what_is_stored_shown_and_signed_is_the_same_valid_json(
        api: ApiServer, receiver: Receiver) -> None:
    app, ep = await app_with_endpoint(api, receiver.url("/agree"))
    secret = (await api.get(f"/api/v1/app/{app}/endpoint/{ep}/secret")).body["key"]
    payload = {"big": 1e308, "tiny": -5e-324, "text": "é \U0001f600 \u2028", "nul": "a\x00b"}

    published = await api.post(f"/api/v1/app/{app}/msg",
                               {"eventType": "invoice.paid", "payload": payload})
    [delivered] = await receiver.wait_for(1, "/agree")

    shown = (await api.get(f"/api/v1/app/{app}/msg/{published.body['id']}")).body["payload"]
    signed = strict_json(delivered.body)
    assert published.body["payload"] == shown == signed["data"] == payload
    assert verify_signature(delivered.body, dict(delivered.headers), secret) == delivered.body


def strict_json(raw: bytes) -> Any:
    """Parse as RFC 8259 allows: refuse NaN and Infinity, which Python's json reads."""
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


# -- the portal's test send goes through the same rule ------------------------------------------
async def test_a_portal_test_send_with_an_unsendable_payload_shows_the_form_error(
        api: ApiServer, receiver: Receiver) -> None:
    app, ep = await app_with_endpoint(api, receiver.url("/portal"))
    link = (await portal_link(api, app)).removeprefix(api.base_url)
    path = f"/portal/endpoints/{ep}/test"

    async with KeepAliveClient("127.0.0.1", api.port) as portal:
        assert (await portal.send("GET", link)).status in (302, 303, 307)
        page = await portal.send("GET", path)
        csrf = csrf_token(page.text)
        for body, inner in bodies(b"VALUE"):
            refused = await portal.post_form(path, {
                "csrf_token": csrf, "event_type": "invoice.paid", "payload": body.decode()})
            assert refused.status == 422, refused.text
            assert f"payload.{inner}:" in refused.text.replace("&#39;", "'")
            sent = await portal.post_form(path, {
                "csrf_token": csrf, "event_type": "invoice.paid", "payload": '{"n": 3}'})
            assert sent.status == 200, sent.text

    assert [json.loads(r.body)["data"] for r in receiver.at("/portal")] == [{"n": 3}] * CASES


async def test_a_surrogate_in_typed_text_is_refused_naming_the_field(
        api: ApiServer, conn: KeepAliveClient) -> None:
    for value in (b'{"\\ud800": "x"}', b'{"x": "\\ud800"}'):
        refused = await conn.post_json("/api/v1/app",
                                       b'{"name": "meta", "metadata": ' + value + b"}")
        assert refused.status == 422, refused.body
        assert refused.json()["field"].startswith("metadata")
        assert (await conn.post_json("/api/v1/app", b'{"name": "meta"}')).status == 201
