"""Probing, on both databases, with a clock the test moves: a disabled endpoint is probed on
its `probeSchedule` (the last delay repeating), each probe an attempt with trigger `probe`
that statistics count; an endpoint a person disabled is never probed; `autoRecover` on the
endpoint wins over its application's, and one that does not heal itself shows no next probe;
enabling by hand is `endpoint.enabled`, reason manual; "Retry now" heals an endpoint and
replays what it missed as `manual` deliveries, each ordering key in publish order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from pytest import approx

from hookline.config import Settings
from hookline.models import AttemptTrigger
from hookline.runtime import Runtime
from tests.api.test_operational import operational_endpoint
from tests.support.api import ADMIN_TOKEN, ApiServer
from tests.support.clock import FakeClock, start_runtime_on
from tests.support.polling import wait_until
from tests.support.receiver import Receiver

FAILING = {"retrySchedule": [], "disableAfterFailures": 1}


def moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Clocked:
    api: ApiServer
    runtime: Runtime
    clock: FakeClock

    async def probe(self) -> int:
        return await self.runtime.service.probe_due_endpoints()


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[Clocked]:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    await runtime.service.ensure_admin_token()
    api = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield Clocked(api, runtime, clock)
    await api.stop()
    await runtime.stop()


async def failed_until_disabled(c: Clocked, receiver: Receiver, app: dict[str, Any],
                                path: str, **fields: Any) -> dict[str, Any]:
    """An endpoint of `app` whose first delivery failed (500), so its rule disabled it."""
    receiver.statuses[path] = [500]
    base = f"/api/v1/app/{app['id']}"
    ep = (await c.api.post(f"{base}/endpoint", {"url": receiver.url(path), **FAILING,
                                                 **fields})).body
    await c.api.post(f"{base}/msg", {"eventType": "a.b", "payload": {}, "channels": None})

    async def disabled() -> dict[str, Any] | None:
        shown: dict[str, Any] = (await c.api.get(f"{base}/endpoint/{ep['id']}")).body
        return shown if shown["disabled"] else None

    shown: dict[str, Any] = await wait_until(disabled, what=f"{path} to be disabled")
    assert shown["disabledBy"] == "rule"
    return shown


async def test_probes_follow_the_schedule_count_as_attempts_and_skip_a_person_s_disabling(
    clocked: Clocked, receiver: Receiver,
) -> None:
    c, service = clocked, clocked.runtime.service
    app = (await c.api.post("/api/v1/app", {"name": "Probed"})).body
    base = f"/api/v1/app/{app['id']}/endpoint"
    ep = await failed_until_disabled(c, receiver, app, "/probed", probeSchedule=[60, 300])
    by_hand = (await c.api.post(base, {"url": receiver.url("/by-hand"), **FAILING})).body
    await c.api.patch(f"{base}/{by_hand['id']}", {"disabled": True})

    await c.probe()  # schedules the first probe
    assert moment((await c.api.get(f"{base}/{ep['id']}")).body["nextProbeAt"]) == approx(
        c.clock() + 60)
    for delay in (60, 300, 300):
        c.clock.advance(delay - 1)
        assert await c.probe() == 0
        c.clock.advance(1)
        assert await c.probe() == 1
    assert len(receiver.at("/probed")) == 1 + 3
    shown = (await c.api.get(f"{base}/{ep['id']}")).body
    assert shown["disabled"] and moment(shown["nextProbeAt"]) == approx(c.clock() + 300)
    attempts = (await service.list_attempts(app["id"], 10, None, endpoint_id=ep["id"])).data
    assert [a.trigger for a in attempts].count(AttemptTrigger.PROBE) == 3
    stats = (await c.api.get(f"{base}/{ep['id']}/stats")).body
    assert stats["last7d"]["failed"] == 4  # the first attempt and three probes

    c.clock.advance(24 * 3600)
    await c.probe()
    assert receiver.at("/by-hand") == []
    hand = (await c.api.get(f"{base}/{by_hand['id']}")).body
    assert hand["disabledBy"] == "manual" and hand["nextProbeAt"] is None
    assert (await c.api.post(f"{base}/{by_hand['id']}/probe", {})).status == 409


async def test_auto_recover_of_the_endpoint_wins_over_its_application_s(
    clocked: Clocked, receiver: Receiver,
) -> None:
    c = clocked
    await operational_endpoint(c.api, receiver, "/ops", filterTypes=["endpoint.enabled"])
    quiet_app = (await c.api.post("/api/v1/app", {"name": "Off", "autoRecover": False})).body
    default_app = (await c.api.post("/api/v1/app", {"name": "On"})).body
    dark = [await failed_until_disabled(c, receiver, quiet_app, "/app-off"),
            await failed_until_disabled(c, receiver, default_app, "/ep-off", autoRecover=False)]
    probed = await failed_until_disabled(c, receiver, quiet_app, "/ep-on", autoRecover=True)

    for _ in range(3):  # the first pass schedules the first probe; two probes follow
        await c.probe()
        c.clock.advance(24 * 3600)
    assert [len(receiver.at(p)) for p in ("/app-off", "/ep-off", "/ep-on")] == [1, 1, 3]
    shown = [(await c.api.get(f"/api/v1/app/{app['id']}/endpoint/{ep['id']}")).body
             for app, ep in ((quiet_app, dark[0]), (default_app, dark[1]), (quiet_app, probed))]
    assert [s["nextProbeAt"] is not None for s in shown] == [False, False, True]
    assert all(s["waitingCount"] >= 1 for s in shown)

    receiver.statuses["/app-off"] = [200]
    await c.api.patch(f"/api/v1/app/{quiet_app['id']}/endpoint/{dark[0]['id']}",
                      {"disabled": False})
    # Signed at the test's clock, days ahead: read, not verified (test_operational verifies).
    [enabled] = await receiver.wait_for(1, "/ops")
    assert json.loads(enabled.body)["data"] == {
        "appId": quiet_app["id"], "appUid": None, "endpointId": dark[0]["id"],
        "endpointUid": None, "reason": "manual"}
    assert probed["autoRecover"] is True and dark[1]["autoRecover"] is False


async def test_retry_now_heals_and_replays_what_was_missed_in_order_per_ordering_key(
    clocked: Clocked, receiver: Receiver,
) -> None:
    c, service = clocked, clocked.runtime.service
    app = (await c.api.post("/api/v1/app", {"name": "Keyed"})).body
    base = f"/api/v1/app/{app['id']}"
    ep = await failed_until_disabled(c, receiver, app, "/keyed")
    keyed: dict[str | None, list[str]] = {}
    for n in range(15):
        key = None if n % 4 == 3 else f"order-{n % 4}"
        msg = (await c.api.post(f"{base}/msg", {"eventType": "a.b", "payload": {"n": n},
                                                "orderingKey": key})).body
        keyed.setdefault(key, []).append(msg["id"])
    receiver.statuses["/keyed"] = [200]

    healed = (await c.api.post(f"{base}/endpoint/{ep['id']}/probe", {})).body
    assert healed["enabled"] and healed["replayed"] == 15
    await receiver.wait_for(1 + 1 + 15, "/keyed")
    arrived = [r.headers["webhook-id"] for r in receiver.at("/keyed")[2:]]
    for ids in keyed.values():  # without a key: one at a time too, in publish order
        assert [i for i in arrived if i in ids] == ids
    attempts = (await service.list_attempts(app["id"], 50, None, endpoint_id=ep["id"])).data
    replays = [a for a in attempts if a.message_id in arrived]
    assert {a.trigger for a in replays} == {AttemptTrigger.MANUAL}
