"""Self-healing, end to end with a real `hookline serve`: an endpoint fails until its rule
disables it, 200 messages are published while it is dark, its receiver comes back, and with
no call from anyone a probe enables it again and it gets every message it missed, in publish
order, each once (the probe's message may come twice), and the operator hears
`endpoint.enabled` and `message.attempt.recovered`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from tests.support.api import make_settings
from tests.support.polling import wait_until
from tests.support.receiver import Received, Receiver
from tests.support.served import ServeProcess

DARK_MESSAGES = 200


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path, poll_interval=0.1)
    server = await ServeProcess(settings, tmp_path, "serve", probe_interval="0.1").start()
    yield server
    await server.stop()


class Partner:
    """A receiver that is down (503) until it comes back, and notes what it accepted."""

    def __init__(self) -> None:
        self.up = False
        self.accepted: list[str] = []

    def answer(self, received: Received) -> web.Response:
        if not self.up:
            return web.Response(status=503)
        self.accepted.append(received.headers["webhook-id"])
        return web.Response(status=200)


async def test_a_disabled_endpoint_heals_itself_and_gets_everything_it_missed_in_order(
    served: ServeProcess, receiver: Receiver
) -> None:
    partner = Partner()
    receiver.on("/hook", partner.answer)
    status, ops = await served.call("POST", "/operational-webhook/endpoint",
                                    {"url": receiver.url("/ops")})
    assert status == 201, ops
    ops_secret = (await served.call(
        "GET", f"/operational-webhook/endpoint/{ops['id']}/secret"))[1]["key"]
    _, app = await served.call("POST", "/app", {"name": "Acme"})
    base = f"/app/{app['id']}"
    status, ep = await served.call("POST", f"{base}/endpoint", {
        "url": receiver.url("/hook"), "retrySchedule": [0.05], "disableAfterFailures": 2,
        "probeSchedule": [0.3]})
    assert status == 201, ep

    _, first = await served.call("POST", f"{base}/msg", {"eventType": "a.b", "payload": {"n": 0}})

    async def disabled() -> bool:
        return bool((await served.call("GET", f"{base}/endpoint/{ep['id']}"))[1]["disabled"])

    await wait_until(disabled, what="the failure rule to disable the endpoint")
    published = [first["id"]]
    for start in range(1, DARK_MESSAGES + 1, 100):
        status, batch = await served.call("POST", f"{base}/msg/batch", {"messages": [
            {"eventType": "a.b", "payload": {"n": n}} for n in range(start, start + 100)]})
        assert status == 200, batch
        published += [item["message"]["id"] for item in batch["data"]]
    async def probe_scheduled() -> dict[str, Any] | None:  # by the prober's next pass
        shown = (await served.call("GET", f"{base}/endpoint/{ep['id']}"))[1]
        return shown if shown["nextProbeAt"] is not None else None

    shown = await wait_until(probe_scheduled, what="the first probe to be scheduled")
    assert shown["disabledBy"] == "rule" and shown["waitingCount"] == DARK_MESSAGES + 1

    partner.up = True
    await wait_until(lambda: len(partner.accepted) >= len(published), timeout=60,
                     what="every missed message to arrive")

    probe_twice = partner.accepted[:2] == [published[0], published[0]]
    assert partner.accepted[1 if probe_twice else 0:] == published
    assert not await disabled()

    def ops_events(event_type: str) -> list[dict[str, Any]]:
        events = [Webhook(ops_secret).verify(r.body, r.headers) for r in receiver.at("/ops")]
        return [e for e in events if e["type"] == event_type]

    enabled = await wait_until(lambda: ops_events("endpoint.enabled"),
                               what="endpoint.enabled")
    assert [e["data"]["reason"] for e in enabled] == ["probe succeeded"]
    assert enabled[0]["data"]["endpointId"] == ep["id"]
    # The probe's message had failed: it recovered. Those never sent did not.
    recovered = await wait_until(lambda: ops_events("message.attempt.recovered"),
                                 what="message.attempt.recovered")
    assert {e["data"]["msgId"] for e in recovered} == {published[0]}
    _, attempts = await served.call("GET", f"{base}/attempt/endpoint/{ep['id']}?limit=250")
    assert any(a["msgId"] == published[0] and a["status"] == 0 for a in attempts["data"])
