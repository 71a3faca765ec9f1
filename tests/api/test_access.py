"""Access over the API: read-only tokens never hold a signing secret, logout ends the caller's
own token, answers carrying a secret or a token are never cached, and every credential-like
header value is masked wherever it is shown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_svix_sdk import call, svix_client
from tests.support.api import ApiServer, Response
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

CREDENTIAL_HEADERS = {"x-bearer": "b-1", "X-HMAC": "h-1", "x-jwt": "eyJ-1", "X-Pass": "p-1",
                      "x-signature": "s-1", "X-Session": "ses-1", "X-Partner-Auth": "a-1"}


def header(answer: Response, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name), None)


def is_problem(answer: Response) -> bool:
    return (header(answer, "content-type") or "").startswith("application/problem+json")


async def app_with_endpoint(api: ApiServer, receiver: Receiver,
                            **endpoint: Any) -> tuple[str, dict[str, Any]]:
    app = (await api.post("/api/v1/app", {"name": "Acme"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/hook"), **endpoint})).body
    return app["id"], ep


async def new_token(api: ApiServer, app_id: str, read_only: bool = False) -> str:
    created = await api.post(f"/api/v1/app/{app_id}/token", {"readOnly": read_only})
    assert created.status == 201, created.body
    token: str = created.body["token"]
    return token


async def test_a_read_only_token_can_neither_read_nor_rotate_a_signing_secret(
        api: ApiServer, receiver: Receiver) -> None:
    app_id, ep = await app_with_endpoint(api, receiver)
    path = f"/api/v1/app/{app_id}/endpoint/{ep['id']}/secret"
    reader = await new_token(api, app_id, read_only=True)
    before = (await api.get(path)).body["key"]

    read = await api.get(path, token=reader)
    rotate = await api.post(f"{path}/rotate", {}, token=reader)

    for refused in (read, rotate):
        assert refused.status == 403
        assert is_problem(refused)
        assert before not in str(refused.body)
    assert (await api.get(f"/api/v1/app/{app_id}/endpoint/{ep['id']}", token=reader)).status \
        == 200  # it still reads everything else
    writer = await new_token(api, app_id)
    assert (await api.get(path, token=writer)).body["key"] == before


async def test_answers_carrying_a_secret_or_a_token_are_never_cached(
        api: ApiServer, receiver: Receiver) -> None:
    app_id, ep = await app_with_endpoint(api, receiver)
    secret = f"/api/v1/app/{app_id}/endpoint/{ep['id']}/secret"
    ops = (await api.post("/api/v1/operational-webhook/endpoint",
                          {"url": receiver.url("/ops")})).body
    answers = {
        "secret": await api.get(secret),
        "operational secret": await api.get(
            f"/api/v1/operational-webhook/endpoint/{ops['id']}/secret"),
        "rotate": await api.post(f"{secret}/rotate", {}),
        "token": await api.post(f"/api/v1/app/{app_id}/token", {}),
        "portal link": await api.post(f"/api/v1/auth/app-portal-access/{app_id}", {}),
    }
    for what, answer in answers.items():
        assert answer.status in (200, 201), (what, answer.body)
        assert header(answer, "cache-control") == "no-store", what
    listing = await api.get(f"/api/v1/app/{app_id}/endpoint")
    assert header(listing, "cache-control") is None


async def test_logout_revokes_the_calling_application_token_read_only_or_not(
        api: ApiServer) -> None:
    app_id = (await api.post("/api/v1/app", {"name": "Acme"})).body["id"]
    for read_only in (False, True):
        token = await new_token(api, app_id, read_only)
        other = await new_token(api, app_id, read_only)
        assert (await api.get(f"/api/v1/app/{app_id}", token=token)).status == 200

        assert (await api.post("/api/v1/auth/logout", token=token)).status == 204

        assert (await api.get(f"/api/v1/app/{app_id}", token=token)).status == 401
        assert (await api.post("/api/v1/auth/logout", token=token)).status == 401
        assert (await api.get(f"/api/v1/app/{app_id}", token=other)).status == 200


@pytest.mark.parametrize("token, status", [("admin", 403), ("hl_app_nope", 401)])
async def test_logout_refuses_the_admin_token_and_unknown_tokens(
        api: ApiServer, token: str, status: int) -> None:
    answer = await api.post("/api/v1/auth/logout", token=None if token == "admin" else token)
    assert answer.status == status
    assert is_problem(answer)
    assert (await api.get("/api/v1/app")).status == 200  # the admin token still works


async def test_the_svix_sdk_logs_out_and_expires_portal_access(api: ApiServer) -> None:
    from svix.api import ApplicationIn, ApplicationTokenExpireIn, AppPortalAccessIn

    admin = svix_client(api)
    app = await call(admin.application.create, ApplicationIn(name="Sdk"))
    await call(admin.authentication.expire_all, app.id,
               ApplicationTokenExpireIn(expiry=0, session_ids=["user_1"]))
    access = await call(admin.authentication.app_portal_access, app.id,
                        AppPortalAccessIn(session_id="user_1", read_only=True))
    await call(svix_client(api, access.token).authentication.logout)
    assert api.session is not None
    async with api.session.get(f"{api.base_url}/portal/access?token={access.token}",
                               allow_redirects=False) as opened:
        assert opened.status == 401  # logged out before it was ever used
    token = await new_token(api, app.id)
    await call(svix_client(api, token).authentication.logout)
    assert (await api.get(f"/api/v1/app/{app.id}", token=token)).status == 401


@pytest.mark.parametrize("body", [{"expiry": -1}, {"expiry": 259201},
                                  {"sessionIds": ["has space"]}, {"sessionIds": ["x" * 65]}])
async def test_expire_all_refuses_what_svix_refuses(api: ApiServer, body: dict[str, Any]) -> None:
    app_id = (await api.post("/api/v1/app", {"name": "Acme"})).body["id"]
    answer = await api.post(f"/api/v1/auth/app/{app_id}/expire-all", body)
    assert answer.status == 422


async def test_every_credential_like_header_is_masked_in_the_api_and_in_attempts(
        api: ApiServer, receiver: Receiver) -> None:
    headers = {**CREDENTIAL_HEADERS, "X-Tenant": "t-1"}
    app_id, ep = await app_with_endpoint(api, receiver, headers=headers)

    shown = (await api.get(f"/api/v1/app/{app_id}/endpoint/{ep['id']}/headers")).body
    await api.post(f"/api/v1/app/{app_id}/msg", {"eventType": "a.b", "payload": {}})
    [request] = await receiver.wait_for(1, "/hook")
    [attempt] = await attempts_recorded(api.runtime.service, app_id, 1)

    assert shown == {"headers": {"X-Tenant": "t-1"}, "sensitive": sorted(CREDENTIAL_HEADERS)}
    recorded = attempt.request_headers
    assert {recorded[name] for name in CREDENTIAL_HEADERS} == {"***"}
    assert recorded["X-Tenant"] == "t-1"
    assert recorded["webhook-signature"] == request.headers["webhook-signature"]
    assert all(request.headers[name] == value for name, value in headers.items())
