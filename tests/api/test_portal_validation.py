"""The portal's webhook form is held to the API's rules, because both go through the service:
what the API refuses with a 422, the portal refuses with the form's error (never a 500), on
both databases."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.e2e.portal import csrf_token, portal_link
from tests.support.api import ApiServer
from tests.support.keepalive import KeepAliveClient, RawResponse

GOOD_URL = "http://127.0.0.1:9/hook"


@dataclass
class PortalForm:
    client: KeepAliveClient
    csrf: str

    async def submit(self, path: str, *extra: tuple[str, str], **fields: str) -> RawResponse:
        """Post the webhook form: a valid one, changed by `fields`, plus repeated `extra`
        fields (header rows)."""
        base = {"url": GOOD_URL, "description": "", "events": "ALL_EVENTS", "active": "on"}
        pairs = [*{**base, **fields, "csrf_token": self.csrf}.items(), *extra]
        return await self.client.send("POST", path, urlencode(pairs).encode(),
                                      "application/x-www-form-urlencoded")


def header_rows(headers: dict[str, str]) -> list[tuple[str, str]]:
    return [pair for name, value in headers.items()
            for pair in (("header_name", name), ("header_value", value))]


@pytest.fixture
async def app_id(api: ApiServer) -> str:
    app = await api.post("/api/v1/app", {"name": "portal-rules"})
    assert app.status == 201
    return str(app.body["id"])


@pytest.fixture
async def portal(api: ApiServer, app_id: str) -> AsyncIterator[PortalForm]:
    async with KeepAliveClient("127.0.0.1", api.port) as client:
        opened = await client.send("GET", (await portal_link(api, app_id))
                                   .removeprefix(api.base_url))
        assert opened.status in (302, 303, 307)
        page = await client.send("GET", "/portal/endpoints/new")
        yield PortalForm(client, csrf_token(page.text))


def form_error(page: RawResponse) -> str:
    assert page.status == 422, page.text[:500]
    assert "Please check the form." in page.text
    return html.unescape(page.text)


async def endpoints_of(api: ApiServer, app_id: str) -> list[str]:
    listed = await api.get(f"/api/v1/app/{app_id}/endpoint")
    return [ep["description"] for ep in listed.body["data"]]


async def test_a_nul_in_the_description_is_the_forms_error_on_create_and_edit(
        api: ApiServer, app_id: str, portal: PortalForm) -> None:
    refused = await portal.submit("/portal/endpoints", description="a\x00b")
    assert "Description contains a NUL" in form_error(refused)

    created = await portal.submit("/portal/endpoints", description="orders")
    assert created.status == 303
    endpoint = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    edited = await portal.submit(f"/portal/endpoints/{endpoint}/edit", description="x\x00")
    assert "Description contains a NUL" in form_error(edited)
    assert await endpoints_of(api, app_id) == ["orders"]


REFUSED = {
    "long description": ({"description": "d" * 4097}, {}, "description", "longer than 4096"),
    "percent-encoded host": ({"url": "http://exa%6Dple.com/hook"}, {}, "url",
                             "percent-encoded"),
    "NUL in a header": ({}, {"x-token": "a\x00b"}, "headers.x-token", "NUL"),
    "long header": ({}, {"x-big": "v" * 4097}, "headers.x-big", "longer than 4096"),
    "21 headers": ({}, {f"x-h{i}": "v" for i in range(21)}, "headers",
                   "at most 20 custom headers"),
    "9 KB of headers": ({}, {f"x-h{i}": "v" * 1000 for i in range(9)}, "headers",
                        "at most 8192 bytes"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_the_portal_refuses_what_the_api_refuses(
        api: ApiServer, app_id: str, portal: PortalForm, case: str) -> None:
    fields, headers, field, words = REFUSED[case]

    page = await portal.submit("/portal/endpoints", *header_rows(headers), **fields)
    via_api = await api.post(f"/api/v1/app/{app_id}/endpoint",
                             {"url": GOOD_URL, **fields, "headers": headers})

    assert words in form_error(page)
    assert via_api.status == 422 and via_api.body["field"] == field, via_api.body
    assert await endpoints_of(api, app_id) == []


async def test_a_nul_in_an_id_typed_into_a_form_is_an_error_page_not_a_500(
        api: ApiServer, app_id: str, portal: PortalForm) -> None:
    created = await api.post(f"/api/v1/app/{app_id}/endpoint", {"url": GOOD_URL})
    path = f"/portal/endpoints/{created.body['id']}/resend"

    refused = await portal.client.post_form(path, {"csrf_token": portal.csrf,
                                                   "message_id": "msg_\x00"})
    after = await portal.client.send("GET", "/portal/")

    assert refused.status in (404, 422), refused.text[:300]
    assert "<!doctype html>" in refused.text.lower()
    assert after.status == 200


async def test_a_preset_chosen_in_the_form_sets_the_whole_contract(
        api: ApiServer, app_id: str, portal: PortalForm) -> None:
    created = await portal.submit("/portal/endpoints", preset="partnero")
    assert created.status == 303, created.text[:500]

    [endpoint] = (await api.get(f"/api/v1/app/{app_id}/endpoint")).body["data"]
    assert (endpoint["envelope"], endpoint["signatureHeader"], endpoint["timeout"],
            endpoint["retrySchedule"]) == ("partnero", "Signature", 5.0,
                                           [60.0, 300.0, 1800.0, 7200.0])


async def test_a_blocked_address_is_refused_in_a_partners_words(
        api: ApiServer, app_id: str, portal: PortalForm) -> None:
    page = form_error(await portal.submit("/portal/endpoints",
                                          url="http://169.254.169.254/hook"))
    via_api = await api.post(f"/api/v1/app/{app_id}/endpoint",
                             {"url": "http://169.254.169.254/hook"})

    assert "This address cannot receive webhooks" in page
    assert "HOOKLINE_" not in page and "egress" not in page
    assert "HOOKLINE_EGRESS_ALLOW" in via_api.body["detail"]  # the operator's API says how
