"""Portal access that ends when it is revoked, on both databases: a link opens one session,
signing out ends every copy of the cookie, expire-all ends an application's sessions and
links, a new admin token ends the admin's sessions, and a read-only session never sees or
rotates a signing secret."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hookline.portal.session import COOKIE_NAME
from tests.e2e.portal import PortalClient, csrf_token, portal_link
from tests.support.api import ADMIN_TOKEN, ApiServer
from tests.support.polling import wait_until
from tests.support.processes import hookline_env
from tests.support.receiver import Receiver


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[PortalClient]:
    portal = PortalClient(api)
    yield portal
    await portal.close()


async def signed_in(api: ApiServer, cookie: str, path: str = "/portal/") -> int:
    """The status a bare copy of a session cookie gets: 200 while the session lives."""
    assert api.session is not None
    async with api.session.get(f"{api.base_url}{path}", allow_redirects=False,
                               headers={"cookie": f"{COOKIE_NAME}={cookie}"}) as resp:
        return resp.status


def cookie_of(client: PortalClient) -> str:
    return next(c.value for c in client.http.cookie_jar if c.key == COOKIE_NAME)


async def open_link(api: ApiServer, link: str) -> tuple[int, str, PortalClient]:
    client = PortalClient(api)
    async with client.http.get(link, allow_redirects=False) as resp:
        return resp.status, await resp.text(), client


async def link_via_api(api: ApiServer, app_id: str, **body: Any) -> str:
    answer = await api.post(f"/api/v1/auth/app-portal-access/{app_id}", body)
    assert answer.status == 200, answer.body
    return f"{api.base_url}/portal/access?token={answer.body['token']}"


async def test_a_portal_link_opens_one_session_and_a_second_use_is_refused(
        api: ApiServer, client: PortalClient) -> None:
    app = await api.runtime.service.create_app("Acme")
    link = await portal_link(api, app.id)
    await client.open(link)

    status, html, stranger = await open_link(api, link)
    await stranger.close()

    assert status == 401
    assert "<!doctype html>" in html and "already been used" in html
    assert (await client.get("/portal/"))[0] == 200  # the first session is unharmed


async def test_of_simultaneous_uses_of_one_link_exactly_one_signs_in(api: ApiServer) -> None:
    app = await api.runtime.service.create_app("Acme")
    link = await portal_link(api, app.id)

    opened = await asyncio.gather(*(open_link(api, link) for _ in range(8)))
    for _, _, each in opened:
        await each.close()

    assert sorted(status for status, _, _ in opened) == [303] + [401] * 7


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
        api: ApiServer, client: PortalClient) -> None:
    app = await api.runtime.service.create_app("Acme")
    await client.open(await portal_link(api, app.id))
    copied = cookie_of(client)
    assert await signed_in(api, copied) == 200

    assert await client.post("/portal/logout", csrf=await client.token()) == 303

    assert await signed_in(api, copied) == 303  # off to the sign-in page
    assert (await client.get("/portal/"))[0] == 303


async def test_opening_another_link_ends_the_session_it_replaces(
        api: ApiServer, client: PortalClient) -> None:
    service = api.runtime.service
    ours, theirs = await service.create_app("Ours"), await service.create_app("Theirs")
    await client.open(await portal_link(api, ours.id))
    replaced = cookie_of(client)

    await client.open(await portal_link(api, theirs.id))

    assert await signed_in(api, replaced) == 303
    assert await signed_in(api, cookie_of(client)) == 200


async def test_resetting_the_admin_token_ends_every_admin_portal_session(
        api: ApiServer, client: PortalClient, tmp_path: Path) -> None:
    await api.runtime.service.create_app("Acme")
    _, login = await client.get("/portal/login")
    assert await client.post("/portal/login", {"admin_token": ADMIN_TOKEN},
                             csrf_token(login)) == 303
    assert (await client.get("/portal/apps"))[0] == 200

    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("hookline")), "admin-token",
        env=hookline_env(api.runtime.settings), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    new_token = out.decode().strip().splitlines()[-1]

    assert (await api.get("/api/v1/app")).status == 401
    status, html = await client.get("/portal/apps")
    assert status == 401 and "Acme" not in html
    assert (await api.get("/api/v1/app", token=new_token)).status == 200


async def test_expire_all_ends_the_applications_sessions_and_links_and_no_others(
        api: ApiServer) -> None:
    service = api.runtime.service
    ours, theirs = await service.create_app("Ours"), await service.create_app("Theirs")
    sessions = [await open_link(api, await portal_link(api, app_id))
                for app_id in (ours.id, ours.id, theirs.id)]
    unused = await portal_link(api, ours.id)
    cookies = [cookie_of(each) for _, _, each in sessions]
    for _, _, each in sessions:
        await each.close()

    answer = await api.post(f"/api/v1/auth/app/{ours.id}/expire-all", {})

    assert answer.status == 204
    assert [await signed_in(api, c) for c in cookies] == [303, 303, 200]
    status, _, late = await open_link(api, unused)
    await late.close()
    assert status == 401


async def test_expire_all_with_session_ids_ends_only_theirs_and_expiry_delays_it(
        api: ApiServer) -> None:
    app = await api.runtime.service.create_app("Acme")
    cookies = {}
    for user in ("user_1", "user_2", "user_3"):
        _, _, each = await open_link(api, await link_via_api(api, app.id, sessionId=user))
        cookies[user] = cookie_of(each)
        await each.close()
    expire = f"/api/v1/auth/app/{app.id}/expire-all"

    assert (await api.post(expire, {"sessionIds": ["user_1"]})).status == 204
    assert (await api.post(expire, {"sessionIds": ["user_2"], "expiry": 1})).status == 204

    assert await signed_in(api, cookies["user_1"]) == 303
    assert await signed_in(api, cookies["user_2"]) == 200  # for one more second
    await wait_until(lambda: _signed_out(api, cookies["user_2"]), timeout=10,
                     what="the delayed expiry")
    assert await signed_in(api, cookies["user_3"]) == 200


async def _signed_out(api: ApiServer, cookie: str) -> bool:
    return await signed_in(api, cookie) == 303


async def test_logging_out_a_portal_link_token_ends_the_session_it_opened(
        api: ApiServer, client: PortalClient) -> None:
    app = await api.runtime.service.create_app("Acme")
    answer = await api.post(f"/api/v1/auth/app-portal-access/{app.id}", {})
    await client.open(answer.body["url"].replace(api.runtime.settings.base_url, api.base_url))
    assert (await client.get("/portal/"))[0] == 200

    assert (await api.post("/api/v1/auth/logout", token=answer.body["token"])).status == 204

    assert (await client.get("/portal/"))[0] == 303


async def test_a_read_only_session_never_sees_or_rotates_the_signing_secret(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    service = api.runtime.service
    app = await service.create_app("Acme")
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"))
    await client.open(await link_via_api(api, app.id, readOnly=True))
    overview = f"/portal/endpoints/{endpoint.id}"
    status, html = await client.get(overview)
    csrf = csrf_token(html)

    assert status == 200 and "Read-only" in html
    assert 'data-test="reveal-secret"' not in html and 'data-test="rotate-secret"' not in html
    for action in ("/secret/reveal", "/secret/rotate", "/deactivate", "/edit"):
        async with client.http.post(f"{client.base}{overview}{action}", allow_redirects=False,
                                    data={"csrf_token": csrf, "url": "http://127.0.0.1:9/"},
                                    headers={"accept": "application/json"}) as resp:
            assert resp.status == 403, action
            assert endpoint.secret not in await resp.text()
    unchanged = await service.get_endpoint(app.id, endpoint.id)
    assert (unchanged.secret, unchanged.disabled, unchanged.url) == (
        endpoint.secret, False, endpoint.url)
    assert await client.post("/portal/logout", csrf=csrf) == 303  # it may still sign out


async def test_a_full_session_is_offered_reveal_and_rotate(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    service = api.runtime.service
    app = await service.create_app("Acme")
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"))
    await client.open(await link_via_api(api, app.id, readOnly=False))

    _, html = await client.get(f"/portal/endpoints/{endpoint.id}")

    assert 'data-test="reveal-secret"' in html and 'data-test="rotate-secret"' in html
    assert "Read-only" not in html


async def test_the_portal_masks_every_credential_like_header(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    service = api.runtime.service
    app = await service.create_app("Acme")
    values = {"x-bearer": "bearer-v", "X-HMAC": "hmac-v", "x-jwt": "jwt-v", "X-Pass": "pass-v",
              "x-signature": "signature-v"}
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"),
                                             headers={**values, "X-Tenant": "tenant-v"})
    await service.publish(app.id, "a.b", {})
    await receiver.wait_for(1, "/hook")
    await client.open(await portal_link(api, app.id))

    pages = [(await client.get(f"/portal/endpoints/{endpoint.id}{tab}"))[1]
             for tab in ("", "/edit")]
    logs = await wait_until(lambda: _logs_with_attempt(client, endpoint.id), what="the log")

    for html in [*pages, logs]:
        assert "tenant-v" in html
        assert [value for value in values.values() if value in html] == []


async def _logs_with_attempt(client: PortalClient, endpoint_id: str) -> str | None:
    _, html = await client.get(f"/portal/endpoints/{endpoint_id}/logs")
    return html if "data-attempt=" in html else None
