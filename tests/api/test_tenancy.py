"""Application-scoped tokens see only their application; read-only tokens cannot write.

Routes are enumerated from the running server's OpenAPI document, which FastAPI builds from
every route it serves: a new route is covered without touching this file (and a route with a
path parameter this file cannot fill fails loudly until it is taught the value).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

WRITE_METHODS = {"post", "put", "patch", "delete"}
_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass
class Tenant:
    """One application with one of everything, and its tokens."""

    app_id: str
    endpoint_id: str
    msg_id: str
    attempt_id: str
    token_id: str
    token: str
    read_only_token: str

    def ids(self) -> dict[str, str]:
        return {"app_id": self.app_id, "endpoint_id": self.endpoint_id, "msg_id": self.msg_id,
                "attempt_id": self.attempt_id, "token_id": self.token_id,
                "webhook_id": self.endpoint_id, "sink_id": self.endpoint_id,
                "consumer_id": "reader"}


async def make_tenant(api: ApiServer, receiver: Receiver, name: str) -> Tenant:
    app = (await api.post("/api/v1/app", {"name": name, "uid": name})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url(f"/{name}")})).body
    msg = (await api.post(f"/api/v1/app/{app['id']}/msg",
                          {"eventType": "a.b", "payload": {"tenant": name}})).body
    await attempts_recorded(api.runtime.service, app["id"], 1, message_id=msg["id"])
    attempts = (await api.get(f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}")).body["data"]
    token = (await api.post(f"/api/v1/app/{app['id']}/token", {"name": "rw"})).body
    read_only = (await api.post(f"/api/v1/app/{app['id']}/token",
                                {"name": "ro", "readOnly": True})).body
    return Tenant(app["id"], ep["id"], msg["id"], attempts[0]["id"], token["id"],
                  token["token"], read_only["token"])


async def operations(api: ApiServer) -> list[tuple[str, str]]:
    """(method, path template) for every operation the API serves."""
    schema = (await api.get("/openapi.json")).body
    return [(method, path) for path, item in schema["paths"].items()
            for method in item if method in {"get", *WRITE_METHODS}]


def fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], path)


def is_app_scoped(path: str) -> bool:
    """Routes that name one application's resources, in the path or through the token."""
    return "{app_id}" in path or path.startswith("/v1/webhooks/")


async def test_every_app_scoped_route_answers_404_for_another_applications_resources(
    api: ApiServer, receiver: Receiver
) -> None:
    alice = await make_tenant(api, receiver, "alice")
    bob = await make_tenant(api, receiver, "bob")
    scoped = [(m, p) for m, p in await operations(api) if is_app_scoped(p)]
    assert len(scoped) >= 25

    for method, template in scoped:
        if method == "get":  # the control: the same route finds bob's own resources
            own = await api.get(fill(template, bob.ids()), token=bob.token)
            assert own.status in (200, 403), (template, "bob cannot read his own", own.body)
        body = {} if method in WRITE_METHODS else None
        response = await api.request(method.upper(), fill(template, alice.ids()), body,
                                     token=bob.token)
        assert response.status == 404, (method, template, response.status, response.body)
        # Her name, endpoint URL and payloads are never in the request: they must not leak.
        assert "alice" not in json.dumps(response.body)


async def test_lists_without_an_application_in_the_path_show_only_the_tokens_own(
    api: ApiServer, receiver: Receiver
) -> None:
    alice = await make_tenant(api, receiver, "alice")
    bob = await make_tenant(api, receiver, "bob")
    apps = (await api.get("/api/v1/app", token=bob.token)).body["data"]
    assert [a["id"] for a in apps] == [bob.app_id]
    webhooks = (await api.get("/v1/webhooks", token=bob.token)).body
    assert [w["id"] for w in webhooks] == [bob.endpoint_id]
    assert alice.app_id not in json.dumps(apps + webhooks)


async def test_a_read_only_token_gets_403_on_every_write_route(
    api: ApiServer, receiver: Receiver
) -> None:
    alice = await make_tenant(api, receiver, "alice")
    # Logging out is no write: a read-only token may end itself (tests/api/test_access.py);
    # nor is a pull feed's seek, which moves only where its reader stands (test_feed.py).
    writes = [(m, p) for m, p in await operations(api)
              if m in WRITE_METHODS and p != "/api/v1/auth/logout" and not p.endswith("/seek")]
    assert len(writes) >= 30
    for method, template in writes:
        path = fill(template, {**alice.ids(), "event_type_name": "a.b"})
        response = await api.request(method.upper(), path, {}, token=alice.read_only_token)
        assert response.status == 403, (method, template, response.status, response.body)
    readable = await api.get(f"/api/v1/app/{alice.app_id}/endpoint/{alice.endpoint_id}",
                             token=alice.read_only_token)
    assert readable.status == 200


async def test_admin_only_routes_refuse_application_tokens(
    api: ApiServer, receiver: Receiver
) -> None:
    alice = await make_tenant(api, receiver, "alice")
    admin_only = [("post", "/api/v1/app"), ("post", "/api/v1/event-type"),
                  ("post", "/api/v1/event-type/import"),
                  ("put", "/api/v1/event-type/{event_type_name}"),
                  ("patch", "/api/v1/event-type/{event_type_name}"),
                  ("delete", "/api/v1/event-type/{event_type_name}"),
                  ("delete", "/api/v1/app/{app_id}"),
                  ("get", "/api/v1/app/{app_id}/token"), ("post", "/api/v1/app/{app_id}/token"),
                  ("delete", "/api/v1/app/{app_id}/token/{token_id}")]
    admin_only += [(m, p) for m, p in await operations(api)
                   if p.startswith("/api/v1/operational-webhook")]
    values = {**alice.ids(), "event_type_name": "a.b", "endpoint_id": "ep_x"}
    for method, template in admin_only:
        response = await api.request(method.upper(), fill(template, values), {"name": "x"},
                                     token=alice.token)
        assert response.status == 403, (method, template, response.status, response.body)


async def test_a_revoked_token_stops_working_at_once(api: ApiServer, receiver: Receiver) -> None:
    alice = await make_tenant(api, receiver, "alice")
    assert (await api.get(f"/api/v1/app/{alice.app_id}", token=alice.token)).status == 200
    listed = (await api.get(f"/api/v1/app/{alice.app_id}/token")).body["data"]
    assert {t["name"] for t in listed} == {"rw", "ro"}
    assert all("token" not in t for t in listed)

    revoked = await api.delete(f"/api/v1/app/{alice.app_id}/token/{alice.token_id}")
    assert revoked.status == 204
    response = await api.get(f"/api/v1/app/{alice.app_id}", token=alice.token)
    assert response.status == 401
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_tokens_are_stored_only_as_hashes(api: ApiServer, receiver: Receiver) -> None:
    alice = await make_tenant(api, receiver, "alice")
    store = api.runtime.store
    async with store.db.connection() as conn:
        rows = await conn.fetch("SELECT * FROM api_tokens")
    dumped = json.dumps([dict(r) for r in rows], default=str)
    assert alice.token not in dumped and alice.read_only_token not in dumped
    assert len(rows) == 2
