"""In-order delivery per object: a partner sees CREATED → PENDING → ACTIVE in that order."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from aiohttp import web

from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from tests.support.polling import wait_until
from tests.support.receiver import Receiver

STATES = ("CREATED", "PENDING", "ACTIVE")


def state_of(body: bytes) -> tuple[str, str]:
    data = json.loads(body)["data"]
    return data["id"], data["state"]


async def test_a_failing_notification_holds_back_later_ones_for_the_same_object_only(
    runtime: Runtime, receiver: Receiver
) -> None:
    failures = {"doc_1/CREATED": 2}
    delivered: list[tuple[str, str]] = []

    def answer(received: Any) -> web.Response:
        key = "/".join(state_of(received.body))
        if failures.get(key, 0) > 0:
            failures[key] -= 1
            return web.Response(status=503)
        delivered.append(state_of(received.body))
        return web.Response(text="ok")

    receiver.on("/documents", answer)
    svc = runtime.service
    app = await svc.create_app("tradevest")
    await svc.create_endpoint(app.id, url=receiver.url("/documents"),
                              options=DeliveryOptions(retry_schedule=[0.3, 0.3, 0.3]))
    for state in STATES:
        await svc.publish(app.id, f"document.{state.lower()}", {"id": "doc_1", "state": state},
                          ordering_key="doc_1")
    await svc.publish(app.id, "document.created", {"id": "doc_2", "state": "CREATED"},
                      ordering_key="doc_2")

    await receiver.wait_for(6, "/documents", timeout=15)  # 2 failures + 4 deliveries
    assert [s for doc, s in delivered if doc == "doc_1"] == list(STATES)
    # doc_2 did not wait for doc_1's retries.
    assert delivered.index(("doc_2", "CREATED")) < delivered.index(("doc_1", "CREATED"))


async def test_many_objects_each_arrive_in_order_under_concurrency(
    runtime: Runtime, receiver: Receiver
) -> None:
    seen: dict[str, list[str]] = {}

    async def jittery(received: Any) -> web.Response:
        await asyncio.sleep(random.uniform(0, 0.05))
        doc, state = state_of(received.body)
        seen.setdefault(doc, []).append(state)
        return web.Response(text="ok")

    receiver.on("/objects", jittery)
    svc = runtime.service
    app = await svc.create_app("many")
    await svc.create_endpoint(app.id, url=receiver.url("/objects"))
    for n in range(60):
        for state in STATES:
            await svc.publish(app.id, "object.state", {"id": f"obj_{n}", "state": state},
                              ordering_key=f"obj_{n}")
    await receiver.wait_for(180, "/objects", timeout=30)
    # The last answers may still be sleeping their jitter.
    await wait_until(lambda: sum(len(states) for states in seen.values()) == 180,
                     what="every state answered")
    wrong = {doc: states for doc, states in seen.items() if states != list(STATES)}
    assert not wrong
