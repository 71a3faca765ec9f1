"""Fair delivery (docs/fairness.md): one endpoint's backlog, retries, cap, rate limit or outage
costs the others nothing. The claims are the store's own, on both databases; the caps across
workers are checked with real worker processes and a receiver counting requests in flight."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hookline.config import Settings
from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from hookline.service.messages import MessageDraft
from hookline.service.operational import ENDPOINT_FAILING, ENDPOINT_RECOVERED
from tests.api.test_operational import events, operational_endpoint, types_of
from tests.support.api import ApiServer, make_settings
from tests.support.polling import wait_until
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver, SlowAnswers

LEASE = 60.0


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


async def _endpoint_with(rt: Runtime, app_id: str, name: str, messages: int,
                         **options: Any) -> str:
    """An endpoint for event type `name` with a backlog of `messages` first attempts."""
    svc = rt.service
    ep = await svc.create_endpoint(app_id, url=f"http://127.0.0.1:9/{name}",
                                   filter_types=[name], options=DeliveryOptions(**options))
    for n in range(messages):
        await svc.publish(app_id, name, {"n": n})
    return ep.id


async def _make_retries(rt: Runtime, endpoint_id: str) -> None:
    """Its due deliveries become retries (what a run of failed attempts leaves)."""
    async with rt.store.db.connection() as conn:
        await conn.execute("UPDATE deliveries SET attempt_count = 1 WHERE endpoint_id = $1",
                           endpoint_id)


async def _claim(rt: Runtime, now: float, limit: int = 100, owner: str = "w",
                 room: int = 100) -> Counter[str]:
    claims = await rt.store.claim_due_deliveries(owner, limit, now, LEASE, (), {}, room, room)
    return Counter(c.endpoint.id for c in claims)


async def test_a_backlog_of_retries_never_delays_another_endpoints_first_attempt(
        control: Runtime) -> None:
    app = await control.service.create_app("fair")
    failing = await _endpoint_with(control, app.id, "a.fail", 60)
    await _make_retries(control, failing)
    healthy = await _endpoint_with(control, app.id, "a.ok", 1)  # published after the backlog

    first_claim = await _claim(control, time.time() + 1, limit=8)

    assert first_claim == {failing: 7, healthy: 1}


async def test_claims_serve_endpoints_round_robin_and_first_attempts_before_retries(
        control: Runtime) -> None:
    app = await control.service.create_app("fair")
    big = await _endpoint_with(control, app.id, "a.big", 30)
    await _make_retries(control, big)
    fresh = await control.service.publish(app.id, "a.big", {"late": True})
    small = await _endpoint_with(control, app.id, "a.small", 3)

    claims = await control.store.claim_due_deliveries("w", 6, time.time() + 1, LEASE, (), {},
                                                      100, 100)

    assert Counter(c.endpoint.id for c in claims) == {big: 3, small: 3}
    mine = [c for c in claims if c.endpoint.id == big]
    assert fresh.message.id in {c.message.id for c in mine}  # its first attempt went first


async def test_the_cap_holds_across_claimers_and_frees_as_leases_end(control: Runtime) -> None:
    app = await control.service.create_app("fair")
    capped = await _endpoint_with(control, app.id, "a.cap", 10, max_concurrency=3)
    now = time.time() + 1

    one, two = await _claim(control, now, owner="one"), await _claim(control, now, owner="two")
    later = await _claim(control, now + LEASE + 1, owner="two")  # the first leases expired

    assert (one[capped], two[capped]) == (3, 0)
    assert later[capped] == 3


async def test_a_worker_reuses_a_slot_once_its_request_ended_before_its_result_is_stored(
        control: Runtime) -> None:
    """A lease lasts until the result is stored; the cap counts requests in flight. The worker
    that holds the leases says how many of its requests are still going (`busy`); others
    count every one of its leases, since they cannot know."""
    app = await control.service.create_app("fair")
    capped = await _endpoint_with(control, app.id, "a.cap", 10, max_concurrency=3)
    now = time.time() + 1

    first = await _claim(control, now, owner="one")
    # Two of those three requests ended (their results not stored yet), one still going.
    again = await control.store.claim_due_deliveries("one", 100, now, LEASE, (), {}, 100, 100,
                                                     {capped: 1})
    elsewhere = await _claim(control, now, owner="two")

    assert first[capped] == 3
    assert Counter(c.endpoint.id for c in again)[capped] == 2
    assert elsewhere[capped] == 0


async def test_a_rate_limit_spreads_requests_over_each_second(control: Runtime) -> None:
    app = await control.service.create_app("fair")
    limited = await _endpoint_with(control, app.id, "a.rate", 80, rate_limit=20)
    start = time.time() + 1
    per_claim = [(await _claim(control, start + i * 0.05))[limited] for i in range(41)]

    assert max(per_claim) <= 2  # a burst is a tenth of a second's rate
    assert 20 <= sum(per_claim[1:21]) <= 22  # one second of claims after the first
    assert 40 <= sum(per_claim) <= 43


async def test_a_paused_endpoint_gets_nothing_then_one_probe_then_everything(
        control: Runtime) -> None:
    app = await control.service.create_app("fair")
    paused = await _endpoint_with(control, app.id, "a.pause", 5)
    other = await _endpoint_with(control, app.id, "a.other", 2)
    now = time.time() + 1
    await control.store.pause_endpoint(paused, now + 5, 5, "answered HTTP 429 with Retry-After")

    during = await _claim(control, now)
    probes = await control.store.claim_due_deliveries("w", 100, now + 6, LEASE, (), {}, 100)
    while_probing = await _claim(control, now + 6.5)
    await control.store.resume_endpoint(paused)
    after = await _claim(control, now + 7)

    assert during == {other: 2}
    assert [(c.endpoint.id, c.probe) for c in probes] == [(paused, True)]
    assert while_probing == {}
    assert after == {paused: 4}
    assert await control.store.open_circuit_count() == 0


@pytest.mark.slow
async def test_two_worker_processes_never_exceed_an_endpoints_cap(
        settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path) -> None:
    slow = SlowAnswers(0.15)
    receiver.on("/capped", slow)
    svc = control.service
    app = await svc.create_app("fair")
    await svc.create_endpoint(app.id, url=receiver.url("/capped"),
                              options=DeliveryOptions(max_concurrency=2))
    workers = [WorkerProcess(settings, tmp_path, f"w{n}") for n in range(2)]
    try:
        for worker in workers:
            worker.wait_started()
        for n in range(16):
            await svc.publish(app.id, "a.b", {"n": n})
        await receiver.wait_for(16, "/capped", timeout=30)
    finally:
        for worker in workers:
            worker.terminate()

    assert slow.peak == 2  # each worker alone would allow 2: together they would reach 4
    assert len({r.headers["webhook-id"] for r in receiver.at("/capped")}) == 16


async def test_a_429_with_retry_after_pauses_the_endpoint_then_one_probe_reopens_it(
        api: ApiServer, receiver: Receiver) -> None:
    calls = 0

    async def busy_once(_: Any) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.Response(status=429, headers={"Retry-After": "2"}, text="slow down")
        if calls == 2:
            await asyncio.sleep(0.3)  # the probe: nothing else goes until it answered
        return web.Response(text="ok")

    receiver.on("/busy", busy_once)
    _, ops_secret = await operational_endpoint(api, receiver, "/ops")
    svc = api.runtime.service
    app = await svc.create_app("fair")
    await svc.create_endpoint(app.id, url=receiver.url("/busy"))
    await svc.publish(app.id, "a.b", {"n": 0})
    await receiver.wait_for(1, "/busy")
    # The circuit opens once the 429 is recorded; what is published from then on waits.
    await wait_until(api.runtime.store.open_circuit_count, what="the circuit to open")
    for n in range(1, 4):
        await svc.publish(app.id, "a.b", {"n": n})

    got = await receiver.wait_for(5, "/busy", timeout=20)  # 4 messages, the first twice
    await receiver.wait_for(3, "/ops")  # endpoint.created, failing, recovered

    assert got[1].at - got[0].at >= 1.9  # nothing while paused
    assert min(r.at for r in got[2:]) >= got[1].at + 0.3  # the probe went alone
    circuit = [t for t in types_of(events(receiver, "/ops", ops_secret))
               if t in (ENDPOINT_FAILING, ENDPOINT_RECOVERED)]
    assert circuit == [ENDPOINT_FAILING, ENDPOINT_RECOVERED]
    assert await api.runtime.store.open_circuit_count() == 0


async def test_a_failing_partner_gets_fewer_requests_in_flight_and_a_healthy_one_its_cap(
        runtime: Runtime, receiver: Receiver) -> None:
    """Adaptive concurrency (delivery/concurrency.py): each 5xx round trip halves the
    failing endpoint's limit, down to one request in flight; the healthy one keeps its cap."""
    in_flight: Counter[str] = Counter()
    seen: dict[str, list[int]] = {"/failing": [], "/healthy": []}

    def answering(status: int) -> Any:
        async def handler(request: web.Request) -> web.Response:
            in_flight[request.path] += 1
            seen[request.path].append(in_flight[request.path])
            await asyncio.sleep(0.05)
            in_flight[request.path] -= 1
            return web.Response(status=status, text="")
        return handler

    receiver.on("/failing", answering(500))
    receiver.on("/healthy", answering(200))
    svc = runtime.service
    app = await svc.create_app("fair")
    for path in seen:
        await svc.create_endpoint(app.id, url=receiver.url(path),
                                  options=DeliveryOptions(max_concurrency=8))
    # All due at once: published one by one, a loaded machine may not keep 8 in flight.
    await svc.publish_batch(app.id, [MessageDraft("a.b", {"n": n}) for n in range(48)])
    await receiver.wait_for(48, "/failing", timeout=30)
    await receiver.wait_for(48, "/healthy", timeout=30)

    assert max(seen["/healthy"]) == 8
    assert max(seen["/failing"][24:]) == 1  # then one at a time


async def test_nothing_more_leaves_for_an_endpoint_between_its_429_and_its_stored_pause(
        settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path) -> None:
    """A worker process gets a 429 with Retry-After: the circuit opens, one probe goes after
    the pause, and its success closes the circuit. The pause is stored with the 429's result,
    a few milliseconds after the answer; the worker holds the endpoint out of its claims until
    then."""
    answered: list[float] = []

    async def busy_first(_: Any) -> web.Response:
        if not answered:
            answered.append(time.time())
            return web.Response(status=429, headers={"Retry-After": "2"}, text="slow down")
        return web.Response(text="ok")

    receiver.on("/busy", busy_first)
    svc = control.service
    app = await svc.create_app("fair")
    await svc.create_endpoint(app.id, url=receiver.url("/busy"),
                              options=DeliveryOptions(max_concurrency=1))
    for n in range(5):  # a backlog, then a worker
        await svc.publish(app.id, "a.b", {"n": n})
    worker = WorkerProcess(settings, tmp_path, "worker")
    try:
        worker.wait_started()
        got = await receiver.wait_for(6, "/busy", timeout=20)  # 5 messages, the first twice
    finally:
        worker.terminate()

    assert got[1].at - answered[0] >= 1.9  # the next request is the probe, after the pause
    assert await control.store.open_circuit_count() == 0  # and closed the circuit


@pytest.mark.slow
async def test_two_worker_processes_hold_an_endpoints_rate_limit_together(
        settings: Settings, control: Runtime, receiver: Receiver, tmp_path: Path) -> None:
    """20 requests a second between them: no second holds more than the rate and a tenth of
    a second's bucket, whichever worker started them (the attempts' start times: a receiver
    in this busy test process may see them bunched). The bucket is taken when a claim is made;
    a request starts a moment later, so a second of start times may also hold one or two
    claimed just before it (23 seen once under load). Two workers each keeping its own bucket
    would start about 40 a second."""
    svc = control.service
    app = await svc.create_app("fair")
    await svc.create_endpoint(app.id, url=receiver.url("/limited"),
                              options=DeliveryOptions(rate_limit=20))
    for n in range(60):
        await svc.publish(app.id, "a.b", {"n": n})
    workers = [WorkerProcess(settings, tmp_path, f"w{n}") for n in range(2)]
    try:
        for worker in workers:
            worker.wait_started()
        await receiver.wait_for(60, "/limited", timeout=30)
    finally:
        for worker in workers:
            worker.terminate()
    async with control.store.db.connection() as conn:
        started = await conn.fetch("SELECT created_at, worker FROM attempts")

    times = sorted(r["created_at"] for r in started)
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    spread = [round(t - times[0], 3) for t in times]
    assert busiest <= 24, spread  # 20 a second, the bucket's 2 at the start, 2 for start lag
    assert times[-1] - times[0] >= 2.5, spread  # 60 at 20 a second, less the first burst
    assert len({r["worker"] for r in started}) == 2
