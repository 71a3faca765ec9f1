"""Idempotency keys through the real HTTP API, under concurrency, on SQLite and PostgreSQL:
one key creates once, whoever asks at the same moment; the others get the first answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from hookline.runtime import Runtime
from tests.support.api import ApiServer, Response
from tests.support.receiver import Receiver

CONCURRENT = 50


async def all_at_once(api: ApiServer, path: str, body: Any, key: str) -> list[Response]:
    return list(await asyncio.gather(*(
        api.post(path, body, headers={"idempotency-key": key}) for _ in range(CONCURRENT))))


def assert_one_created(responses: list[Response], created_status: int) -> None:
    statuses = Counter(r.status for r in responses)
    assert statuses == {created_status: 1, 200: CONCURRENT - 1}, statuses
    assert len({r.body["id"] for r in responses}) == 1


async def count(runtime: Runtime, sql: str, *args: Any) -> int:
    async with runtime.store.db.connection() as conn:
        row = await conn.fetchrow(sql, *args)
    assert row is not None
    return int(row["n"])


async def new_app_with_endpoints(api: ApiServer, receiver: Receiver, n: int) -> str:
    app = (await api.post("/api/v1/app", {"name": "idem"})).body
    for i in range(n):
        ep = await api.post(f"/api/v1/app/{app['id']}/endpoint",
                            {"url": receiver.url(f"/idem/{i}")})
        assert ep.status == 201, ep.body
    return str(app["id"])


async def test_concurrent_publishes_with_one_key_create_one_message_and_one_fan_out(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 3)
    responses = await all_at_once(api, f"/api/v1/app/{app_id}/msg",
                                  {"eventType": "order.paid", "payload": {"n": 1}}, "pay-1")

    assert_one_created(responses, 202)
    assert await count(runtime, "SELECT count(*) AS n FROM messages WHERE app_id = $1",
                       app_id) == 1
    assert await count(runtime, "SELECT count(*) AS n FROM deliveries WHERE message_id = $1",
                       responses[0].body["id"]) == 3
    assert len({r.body["payload"]["n"] for r in responses}) == 1


async def test_a_different_key_publishes_a_new_message(api: ApiServer, receiver: Receiver
                                                       ) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 1)
    path, body = f"/api/v1/app/{app_id}/msg", {"eventType": "a.b", "payload": {}}
    first = await api.post(path, body, headers={"idempotency-key": "k-1"})
    again = await api.post(path, body, headers={"idempotency-key": "k-1"})
    other = await api.post(path, body, headers={"idempotency-key": "k-2"})

    assert (first.status, again.status, other.status) == (202, 200, 202)
    assert again.body["id"] == first.body["id"] != other.body["id"]


async def test_concurrent_creates_of_an_application_with_one_key_create_one(
    api: ApiServer, runtime: Runtime
) -> None:
    before = await count(runtime, "SELECT count(*) AS n FROM applications")
    responses = await all_at_once(api, "/api/v1/app", {"name": "shop"}, "app-1")

    assert_one_created(responses, 201)
    assert await count(runtime, "SELECT count(*) AS n FROM applications") == before + 1
    assert {r.body["name"] for r in responses} == {"shop"}


async def test_concurrent_creates_of_an_endpoint_with_one_key_create_one(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    responses = await all_at_once(api, f"/api/v1/app/{app_id}/endpoint",
                                  {"url": receiver.url("/one")}, "ep-1")

    assert_one_created(responses, 201)
    assert await count(runtime, "SELECT count(*) AS n FROM endpoints WHERE app_id = $1",
                       app_id) == 1


async def test_a_different_key_creates_a_new_endpoint(api: ApiServer, receiver: Receiver
                                                      ) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path, body = f"/api/v1/app/{app_id}/endpoint", {"url": receiver.url("/e")}
    first = await api.post(path, body, headers={"idempotency-key": "e-1"})
    again = await api.post(path, body, headers={"idempotency-key": "e-1"})
    other = await api.post(path, body, headers={"idempotency-key": "e-2"})

    assert (first.status, again.status, other.status) == (201, 200, 201)
    assert again.body == first.body
    assert other.body["id"] != first.body["id"]


async def test_a_key_reused_on_another_route_is_refused(api: ApiServer, receiver: Receiver
                                                        ) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    created = await api.post(f"/api/v1/app/{app_id}/endpoint", {"url": receiver.url("/e")},
                             headers={"idempotency-key": "shared"})
    token = await api.post(f"/api/v1/app/{app_id}/token", {"name": "ci"},
                           headers={"idempotency-key": "shared"})

    assert created.status == 201
    assert token.status == 409 and token.body["code"] == "conflict"


async def test_a_key_reused_with_another_body_is_refused(api: ApiServer, receiver: Receiver
                                                         ) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path = f"/api/v1/app/{app_id}/endpoint"
    created = await api.post(path, {"url": receiver.url("/a")}, headers={"idempotency-key": "b"})
    other = await api.post(path, {"url": receiver.url("/b")}, headers={"idempotency-key": "b"})
    batch = f"/api/v1/app/{app_id}/msg/batch"
    valid = {"messages": [{"eventType": "a.b", "payload": {}}]}
    published = await api.post(batch, valid, headers={"idempotency-key": "m"})
    invalid = await api.post(batch, {"messages": [{"eventType": "a.b"}]},
                             headers={"idempotency-key": "m"})

    assert (created.status, other.status) == (201, 409)
    assert (published.status, invalid.status) == (200, 409)


async def test_a_failed_request_leaves_its_key_free(api: ApiServer, receiver: Receiver) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path = f"/api/v1/app/{app_id}/endpoint"
    refused = await api.post(path, {"url": "ftp://nowhere"}, headers={"idempotency-key": "f"})
    fixed = await api.post(path, {"url": receiver.url("/f")}, headers={"idempotency-key": "f"})

    assert refused.status == 422
    assert fixed.status == 201


async def test_a_retried_token_create_returns_the_same_token(api: ApiServer,
                                                             receiver: Receiver) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path = f"/api/v1/app/{app_id}/token"
    first = await api.post(path, {"name": "ci"}, headers={"idempotency-key": "t"})
    again = await api.post(path, {"name": "ci"}, headers={"idempotency-key": "t"})
    tokens = await api.get(path)

    assert (first.status, again.status) == (201, 200)
    assert again.body["token"] == first.body["token"]
    assert len(tokens.body["data"]) == 1


async def test_an_expired_key_is_claimed_afresh(api: ApiServer, runtime: Runtime,
                                                receiver: Receiver) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path, body = f"/api/v1/app/{app_id}/endpoint", {"url": receiver.url("/x")}
    first = await api.post(path, body, headers={"idempotency-key": "old"})
    async with runtime.store.db.transaction() as tx:
        await tx.execute("UPDATE idempotent_requests SET created_at = created_at - 86401")
    again = await api.post(path, body, headers={"idempotency-key": "old"})

    assert (first.status, again.status) == (201, 201)
    assert again.body["id"] != first.body["id"]


async def test_an_expired_publish_key_publishes_afresh(api: ApiServer, runtime: Runtime,
                                                       receiver: Receiver) -> None:
    app_id = await new_app_with_endpoints(api, receiver, 0)
    path, body = f"/api/v1/app/{app_id}/msg", {"eventType": "a.b", "payload": {}}
    first = await api.post(path, body, headers={"idempotency-key": "old"})
    async with runtime.store.db.transaction() as tx:
        await tx.execute("UPDATE idempotency_keys SET created_at = created_at - 86401")
    again = await api.post(path, body, headers={"idempotency-key": "old"})
    third = await api.post(path, body, headers={"idempotency-key": "old"})

    assert (first.status, again.status, third.status) == (202, 202, 200)
    assert first.body["id"] != again.body["id"] == third.body["id"]


async def test_a_retried_recover_replays_its_first_answer(api: ApiServer,
                                                          receiver: Receiver) -> None:
    app = (await api.post("/api/v1/app", {"name": "r"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/r")})).body
    path = f"/api/v1/app/{app['id']}/endpoint/{ep['id']}/recover"
    body = {"since": "2026-01-01T00:00:00Z"}
    first = await api.post(path, body, headers={"idempotency-key": "rec"})
    again = await api.post(path, body, headers={"idempotency-key": "rec"})

    assert (first.status, again.status) == (202, 200)
    assert again.body == first.body
