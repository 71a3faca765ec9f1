"""Who may do what in the portal: one application's session never reaches another's webhooks,
every form needs the session's CSRF token, links expire, the admin can switch applications."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hookline.models import Endpoint
from hookline.tokens import PORTAL_KEY_LABEL, sign_portal_token
from tests.e2e.portal import PortalClient, csrf_token, portal_link, seed_catalogue
from tests.support.api import ADMIN_TOKEN, ApiServer
from tests.support.receiver import Receiver

PAGES = ["", "/edit", "/test", "/logs", "/delete", "/recover?since_hours=24"]
ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("/edit", {"url": "http://127.0.0.1:9/stolen", "events": "ALL_EVENTS", "active": "on"}),
    ("/deactivate", {}),
    ("/reactivate", {}),
    ("/secret/reveal", {}),
    ("/secret/rotate", {}),
    ("/test", {"event_type": "customer.created", "payload": "{}"}),
    ("/resend", {"message_id": "msg_x"}),
    ("/recover", {"since": "0", "until": "0"}),
    ("/delete", {}),
]


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[PortalClient]:
    portal = PortalClient(api)
    yield portal
    await portal.close()


async def two_partners(api: ApiServer, receiver: Receiver) -> tuple[str, Endpoint, Endpoint]:
    service = api.runtime.service
    await seed_catalogue(service)
    ours = await service.create_app("Ours")
    theirs = await service.create_app("Theirs")
    mine = await service.create_endpoint(ours.id, url=receiver.url("/ours"))
    other = await service.create_endpoint(theirs.id, url=receiver.url("/theirs"))
    return ours.id, mine, other


async def test_a_partner_gets_404_for_every_page_and_action_of_another_application(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    app_id, mine, other = await two_partners(api, receiver)
    await client.open(await portal_link(api, app_id))
    csrf = await client.token()

    for page in PAGES:
        assert (await client.get(f"/portal/endpoints/{mine.id}{page}"))[0] == 200, page
        status, html = await client.get(f"/portal/endpoints/{other.id}{page}")
        assert status == 404, page
        assert other.url not in html
    for action, fields in ACTIONS:
        status = await client.post(f"/portal/endpoints/{other.id}{action}", fields, csrf)
        assert status == 404, action

    service = api.runtime.service
    untouched = await service.get_endpoint(other.app_id, other.id)
    assert (untouched.url, untouched.secret, untouched.disabled) == (
        other.url, other.secret, other.disabled)
    assert receiver.at("/theirs") == []
    listing = (await client.get("/portal/"))[1]
    assert mine.url in listing and other.url not in listing


async def test_a_form_post_without_the_sessions_csrf_token_is_refused(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    app_id, mine, _ = await two_partners(api, receiver)
    await client.open(await portal_link(api, app_id))
    stranger = PortalClient(api)
    try:
        await stranger.open(await portal_link(api, app_id))
        strangers_token = await stranger.token()
    finally:
        await stranger.close()
    path = f"/portal/endpoints/{mine.id}/deactivate"

    assert await client.post(path) == 403
    assert await client.post(path, csrf="forged") == 403
    assert await client.post(path, csrf=strangers_token) == 403
    assert not (await api.runtime.service.get_endpoint(app_id, mine.id)).disabled

    assert await client.post(path, csrf=await client.token()) == 303
    assert (await api.runtime.service.get_endpoint(app_id, mine.id)).disabled


@pytest.mark.parametrize("token", ["expired", "forged", "garbage", ""])
async def test_a_bad_portal_link_opens_nothing(api: ApiServer, client: PortalClient,
                                               token: str) -> None:
    service = api.runtime.service
    app = await service.create_app("Acme")
    key = service.box.derive(PORTAL_KEY_LABEL)
    tokens = {
        "expired": sign_portal_token(key, app.id, 60, time.time() - 120),
        "forged": sign_portal_token(b"not the key" * 3, app.id, 600, time.time()),
        "garbage": "eyJhcHAiOiJ4In0.bm9wZQ", "": ""}
    status, _ = await client.get(f"/portal/access?token={tokens[token]}")
    assert status == 401
    assert (await client.get("/portal/"))[0] == 303  # still signed out: off to sign-in


async def test_the_admin_signs_in_and_switches_between_applications(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    ours_id, mine, other = await two_partners(api, receiver)
    _, login = await client.get("/portal/login")
    assert await client.post("/portal/login", {"admin_token": "wrong"},
                             csrf_token(login)) == 401
    assert await client.post("/portal/login", {"admin_token": ADMIN_TOKEN},
                             csrf_token(login)) == 303

    status, apps = await client.get("/portal/apps")
    assert status == 200 and "Ours" in apps and "Theirs" in apps
    switch: dict[str, Any] = {"app_id": other.app_id}
    assert await client.post("/portal/apps/switch", switch, csrf_token(apps)) == 303
    listing = (await client.get("/portal/"))[1]
    assert other.url in listing and mine.url not in listing
    assert (await client.get(f"/portal/endpoints/{mine.id}"))[0] == 404

    switch = {"app_id": ours_id}
    assert await client.post("/portal/apps/switch", switch, csrf_token(listing)) == 303
    assert mine.url in (await client.get("/portal/"))[1]


async def test_a_partner_session_cannot_reach_the_admin_pages(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    app_id, _, other = await two_partners(api, receiver)
    await client.open(await portal_link(api, app_id))
    csrf = await client.token()
    assert (await client.get("/portal/apps"))[0] == 401
    assert await client.post("/portal/apps/switch", {"app_id": other.app_id}, csrf) == 401


async def test_the_signing_secret_is_in_a_page_only_after_an_explicit_reveal(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    app_id, mine, _ = await two_partners(api, receiver)
    await client.open(await portal_link(api, app_id))
    overview = f"/portal/endpoints/{mine.id}"

    for page in PAGES:
        assert mine.secret not in (await client.get(overview + page))[1], page
    async with client.http.post(f"{client.base}{overview}/secret/reveal",
                                data={"csrf_token": await client.token()}) as resp:
        assert resp.status == 200
        assert mine.secret in await resp.text()
        assert resp.headers["cache-control"] == "no-store"


async def test_unknown_portal_pages_answer_with_the_portals_404_page(
        api: ApiServer, client: PortalClient) -> None:
    status, html = await client.get("/portal/no/such/page")
    assert status == 404 and "<!doctype html>" in html
    status, _ = await client.get("/portal/static/portal.css")
    assert status == 200
