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
