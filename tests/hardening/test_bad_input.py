"""Bad input through the real HTTP API: every refusal is a problem+json response with the
right status that names the field, and none carries a stack trace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hookline.config import Settings
from tests.hardening.conftest import ServeApi, StartRuntime
from tests.support.api import ApiServer, Response

PROBLEM_JSON = "application/problem+json"
PUBLIC_URL = "https://hooks.example.test/in"


@pytest.fixture
async def api(start_runtime: StartRuntime, serve_api: ServeApi,
              strict_settings: Settings) -> ApiServer:
    settings = strict_settings.with_(strict_event_types=True)
    return await serve_api(await start_runtime(settings, with_worker=False))


async def new_app(api: ApiServer) -> str:
    created = await api.post("/api/v1/app", {"name": "bad-input"})
    assert created.status == 201
    app_id: str = created.body["id"]
    return app_id


async def known_event_type(api: ApiServer, name: str = "invoice.paid") -> None:
    created = await api.post("/api/v1/event-type", {"name": name, "description": "paid"})
    assert created.status == 201, created.body


def summary(response: Response) -> tuple[int, str | None, str | None]:
    """(status, content type, field) of a problem response, after checking it hides nothing."""
    text = json.dumps(response.body)
    assert "Traceback" not in text and 'File "' not in text, text
    body = response.body if isinstance(response.body, dict) else {}
    return response.status, response.headers.get("Content-Type"), body.get("field")


def names_field(response: Response, field: str) -> bool:
    """Whether a problem names `field`: as its `field`, a part of it, or in its detail."""
    named = str(response.body.get("field") or "")
    return (named == field or named.startswith(field + ".")
            or f"{field} " in str(response.body.get("detail")))


async def test_payload_over_the_size_limit_is_refused_with_413(api: ApiServer) -> None:
    app = await new_app(api)
    await known_event_type(api)
    limit = 1024 * 1024
    just_over = {"eventType": "invoice.paid", "payload": {"blob": "x" * limit}}
    far_over = json.dumps({"eventType": "invoice.paid",
                           "payload": {"blob": "x" * (3 * limit)}}).encode()

    refused = [await api.post(f"/api/v1/app/{app}/msg", just_over),
               await api.post(f"/api/v1/app/{app}/msg", data=far_over)]
    accepted = await api.post(f"/api/v1/app/{app}/msg",
                              {"eventType": "invoice.paid", "payload": {"blob": "x" * 1000}})

    assert [summary(r)[:2] for r in refused] == [(413, PROBLEM_JSON)] * 2
    assert "limit is 1048576" in refused[0].body["detail"]
    assert accepted.status == 202


async def test_malformed_json_is_refused_with_400(api: ApiServer) -> None:
    app = await new_app(api)

    response = await api.post(f"/api/v1/app/{app}/msg",
                              data=b'{"eventType": "invoice.paid", "payload": {')

    assert summary(response) == (400, PROBLEM_JSON, None)
    assert response.body["detail"] == "the request body is not valid JSON"


MESSAGES: list[tuple[Any, str]] = [
    ({"payload": {"n": 1}}, "eventType"),
    ({"eventType": 5, "payload": {"n": 1}}, "eventType"),
    ({"eventType": "invoice.paid"}, "payload"),
    ({"eventType": "invoice.paid", "payload": [1, 2]}, "payload"),
    ({"eventType": "invoice.paid", "payload": "text"}, "payload"),
    ({"eventType": "invoice.paid", "payload": {}, "channels": "eu"}, "channels"),
    ({"eventType": "no such type", "payload": {"n": 1}}, "eventType"),
    ({"eventType": "invoice.refunded", "payload": {"n": 1}}, "eventType"),  # not in catalogue
]


async def test_message_with_wrong_or_missing_fields_is_refused_with_422_naming_the_field(
    api: ApiServer,
) -> None:
    app = await new_app(api)
    await known_event_type(api)

    answers = {json.dumps(body): summary(await api.post(f"/api/v1/app/{app}/msg", body))
               for body, _ in MESSAGES}

    assert answers == {json.dumps(body): (422, PROBLEM_JSON, field)
                       for body, field in MESSAGES}


BAD_URLS = [
    "ftp://hooks.example.test/in",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "gopher://hooks.example.test:70/_SET%20x",
    "hooks.example.test/in",
    "https://hooks.example.test/" + "a" * 2030,  # 2,058 characters
    "https://hooks.example.test/" + "a" * 5000,
    "https://user:password@hooks.example.test/in",
    "https://user@hooks.example.test/in",
    "https://hooks.example.test/in put",
    "https://hooks.example.test:99999/in",
]


def shown(url: str) -> str:
    return url if len(url) < 60 else f"{url[:40]}... ({len(url)} characters)"


async def test_url_that_is_not_http_too_long_or_has_credentials_is_refused_with_422(
    api: ApiServer,
) -> None:
    app = await new_app(api)
    create = f"/api/v1/app/{app}/endpoint"

    answers = {shown(url): summary(await api.post(create, {"url": url})) for url in BAD_URLS}
    limit = await api.post(create, {"url": "https://hooks.example.test/" + "a" * 2021})

    assert answers == {shown(url): (422, PROBLEM_JSON, "url") for url in BAD_URLS}
    assert limit.status == 201  # exactly 2,048 characters


BAD_HEADERS: list[dict[str, Any]] = [
    {"X-Note": "first\r\nInjected: yes"},
    {"X-Note": "first\nsecond"},
    {"X-Note": "nul\x00byte"},
    {"Bad Header": "value"},
    {"X-Colon:": "value"},
    {"": "value"},
    {"Host": "internal.example.test"},
    {"content-length": "0"},
    {"Transfer-Encoding": "chunked"},
    {"webhook-signature": "v1,forged"},
    {"Webhook-Id": "msg_forged"},
    {"webhook-timestamp": "0"},
    {"svix-signature": "v1,forged"},
    {"X-Note": 5},
]


async def test_custom_headers_that_could_smuggle_or_forge_are_refused_with_422(
    api: ApiServer,
) -> None:
    app = await new_app(api)
    create = f"/api/v1/app/{app}/endpoint"

    answers = {}
    for headers in BAD_HEADERS:
        response = await api.post(create, {"url": PUBLIC_URL, "headers": headers})
        answers[json.dumps(headers)] = (*summary(response)[:2],
                                        names_field(response, "headers"))
    hex_signature = await api.post(create, {
        "url": PUBLIC_URL, "signatureScheme": "hmac-sha256-hex",
        "signatureHeader": "X-Partner-Signature", "secret": "partner-secret",
        "headers": {"x-partner-signature": "forged"}})
    fine = await api.post(create, {"url": PUBLIC_URL,
                                   "headers": {"Authorization": "Bearer abc"}})

    assert answers == {json.dumps(headers): (422, PROBLEM_JSON, True)
                       for headers in BAD_HEADERS}
    assert summary(hex_signature)[0] == 422
    assert fine.status == 201
