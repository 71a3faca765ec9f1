"""Batch publish through the real HTTP API, on SQLite and PostgreSQL: one result per item in
order, idempotency per item, a bad item refused alone, the size limits, and the fan-out."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from typing import Any

from hookline.runtime import Runtime
from tests.support.api import ApiServer
from tests.support.polling import deliveries_settled
from tests.support.receiver import Receiver


async def new_app(api: ApiServer, receiver: Receiver, *endpoints: dict[str, Any]) -> str:
    app = (await api.post("/api/v1/app", {"name": "batch"})).body
    for fields in endpoints:
        ep = await api.post(f"/api/v1/app/{app['id']}/endpoint", fields)
        assert ep.status == 201, ep.body
    return f"/api/v1/app/{app['id']}/msg"


def item(n: int, event_type: str = "order.paid", **extra: Any) -> dict[str, Any]:
    return {"eventType": event_type, "payload": {"n": n}, **extra}


async def stored_messages(runtime: Runtime, app_path: str) -> int:
    app_id = app_path.split("/")[4]
    async with runtime.store.db.connection() as conn:
        row = await conn.fetchrow("SELECT count(*) AS n FROM messages WHERE app_id = $1", app_id)
    assert row is not None
    return int(row["n"])


async def test_a_batch_answers_one_result_per_item_in_order(api: ApiServer,
                                                            receiver: Receiver) -> None:
    msg = await new_app(api, receiver)
    answer = await api.post(f"{msg}/batch", {"messages": [item(n) for n in range(5)]})

    assert answer.status == 200, answer.body
    results = answer.body["data"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["message"]["payload"]["n"] for r in results] == [0, 1, 2, 3, 4]
    assert {(r["outcome"], r["status"]) for r in results} == {("created", 202)}
    listed = (await api.get(msg)).body["data"]
    assert {m["id"] for m in listed} == {r["message"]["id"] for r in results}


async def test_items_with_a_known_key_return_the_existing_message(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    msg = await new_app(api, receiver)
    earlier = await api.post(msg, item(0), headers={"idempotency-key": "seen"})
    answer = await api.post(f"{msg}/batch", {"messages": [
        item(1, idempotencyKey="seen"), item(2, idempotencyKey="new"), item(3),
        item(4, idempotencyKey="new")]})

    results = answer.body["data"]
    assert [r["outcome"] for r in results] == ["existing", "created", "created", "existing"]
    assert [r["status"] for r in results] == [200, 202, 202, 200]
    assert results[0]["message"] == earlier.body
    assert results[3]["message"]["id"] == results[1]["message"]["id"]
    assert await stored_messages(runtime, msg) == 3
    again = await api.post(msg, item(5), headers={"idempotency-key": "new"})
    assert (again.status, again.body["id"]) == (200, results[1]["message"]["id"])


async def test_a_bad_item_refuses_only_itself_with_its_index(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    msg = await new_app(api, receiver)
    answer = await api.post(f"{msg}/batch", {"messages": [
        item(0), {"eventType": "order.paid"}, item(2, event_type="bad type!"), item(3)]})

    assert answer.status == 200, answer.body
    results = answer.body["data"]
    assert [r["outcome"] for r in results] == ["created", "refused", "refused", "created"]
    missing, bad_name = results[1], results[2]
    assert (missing["index"], missing["status"], missing["error"]["field"]) == (1, 422, "payload")
    assert (bad_name["index"], bad_name["error"]["field"]) == (2, "eventType")
    assert bad_name["error"]["code"] == "validation" and bad_name["message"] is None
    assert await stored_messages(runtime, msg) == 2


async def test_a_payload_a_single_publish_takes_is_taken_in_a_batch_too(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    msg = await new_app(api, receiver)
    payload = {"text": "a\x00b", "ok": True}  # a NUL is fine in a payload (stored escaped)
    single = await api.post(msg, {"eventType": "order.paid", "payload": payload})
    answer = await api.post(f"{msg}/batch", {"messages": [
        {"eventType": "order.paid", "payload": payload}, item(1, eventId="e\x00")]})

    assert single.status == 202, single.body
    assert answer.status == 200, answer.body
    created, refused = answer.body["data"]
    assert (created["outcome"], created["message"]["payload"]) == ("created", payload)
    assert (refused["index"], refused["outcome"], refused["error"]["field"]) == (
        1, "refused", "eventId")  # text fields still refuse a NUL, for that item alone
    assert await stored_messages(runtime, msg) == 2


async def test_more_than_100_items_are_refused_whole(api: ApiServer, runtime: Runtime,
                                                     receiver: Receiver) -> None:
    msg = await new_app(api, receiver)
    answer = await api.post(f"{msg}/batch", {"messages": [item(n) for n in range(101)]})

    assert answer.status == 422
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert await stored_messages(runtime, msg) == 0
    assert (await api.post(f"{msg}/batch", {"messages": [item(n) for n in range(100)]})
            ).status == 200


async def test_a_batch_over_the_body_limit_is_refused_whole(api: ApiServer, runtime: Runtime,
                                                            receiver: Receiver) -> None:
    msg = await new_app(api, receiver)
    half = api.runtime.settings.max_payload_bytes // 2 + 64 * 1024
    body = {"messages": [{"eventType": "a.b", "payload": {"s": "x" * half}} for _ in range(3)]}
    answer = await api.post(f"{msg}/batch", data=json.dumps(body).encode())

    assert answer.status == 413
    assert answer.body["code"] == "payload_too_large"
    assert await stored_messages(runtime, msg) == 0


async def test_every_accepted_message_reaches_every_endpoint_that_wants_it(
    api: ApiServer, receiver: Receiver
) -> None:
    msg = await new_app(api, receiver, {"url": receiver.url("/all")},
                        {"url": receiver.url("/paid"), "filterTypes": ["order.paid"]},
                        {"url": receiver.url("/eu"), "channels": ["eu"]})
    answer = await api.post(f"{msg}/batch", {"messages": [
        item(0), item(1, "order.refunded"), item(2, channels=["eu"]), {"eventType": "x"},
        item(4, "order.refunded", channels=["eu"])]})
    assert [r["outcome"] for r in answer.body["data"]].count("created") == 4

    await receiver.wait_for(4, "/all")
    await receiver.wait_for(2, "/paid")
    await receiver.wait_for(2, "/eu")
    # One delivery per message and endpoint, each done: nothing more will arrive.
    assert await deliveries_settled(api.runtime) == {"succeeded": 8}
    got = Counter((r.path, json.loads(r.body)["data"]["n"]) for r in receiver.requests)
    assert got == Counter({("/all", 0): 1, ("/all", 1): 1, ("/all", 2): 1, ("/all", 4): 1,
                           ("/paid", 0): 1, ("/paid", 2): 1, ("/eu", 2): 1, ("/eu", 4): 1})


async def test_concurrent_batches_sharing_keys_create_each_message_once(
    api: ApiServer, runtime: Runtime, receiver: Receiver
) -> None:
    msg = await new_app(api, receiver)
    keys = [f"k{n}" for n in range(10)]

    async def batch(order: list[str]) -> Any:
        return (await api.post(f"{msg}/batch", {"messages": [
            item(0, idempotencyKey=key) for key in order]})).body["data"]

    answers = await asyncio.gather(*(batch(keys if n % 2 else keys[::-1]) for n in range(10)))

    assert await stored_messages(runtime, msg) == 10
    created = [r for results in answers for r in results if r["outcome"] == "created"]
    assert len(created) == 10
    ids_per_key: dict[str, set[str]] = defaultdict(set)
    for n, results in enumerate(answers):
        for key, result in zip(keys if n % 2 else keys[::-1], results, strict=True):
            ids_per_key[key].add(result["message"]["id"])
    assert all(len(ids) == 1 for ids in ids_per_key.values())
