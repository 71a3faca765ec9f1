"""Publish → fan-out → signed delivery → retries, against real databases and a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from standardwebhooks import Webhook

from hookline.config import Settings
from hookline.delivery.worker import DeliveryWorker
from hookline.models import DeliveryOptions, DeliveryStatus
from hookline.runtime import Runtime
from tests.support.clock import FakeClock, start_runtime_on
from tests.support.polling import attempts_recorded, deliveries_settled, wait_until
from tests.support.receiver import Receiver, SlowAnswers


@pytest.mark.slow
async def test_thousand_messages_reach_every_subscribed_endpoint(
    runtime: Runtime, receiver: Receiver
) -> None:
    svc = runtime.service
    app = await svc.create_app("acme")
    everything = await svc.create_endpoint(app.id, url=receiver.url("/all"))
    orders = await svc.create_endpoint(app.id, url=receiver.url("/orders"),
                                       filter_types=["order.*"])
    europe = await svc.create_endpoint(app.id, url=receiver.url("/eu"), channels=["eu"])
    expected: dict[str, set[str]] = {"/all": set(), "/orders": set(), "/eu": set()}
    for i in range(1000):
        event_type = ("order.created", "customer.updated")[i % 2]
        channels = ["eu"] if i % 3 == 0 else (["us"] if i % 3 == 1 else None)
        result = await svc.publish(app.id, event_type, {"n": i, "name": "Zoë"},
                                   channels=channels)
        msg_id = result.message.id
        expected["/all"].add(msg_id)
        if event_type.startswith("order."):
            expected["/orders"].add(msg_id)
        if channels == ["eu"]:
            expected["/eu"].add(msg_id)

    total = sum(len(ids) for ids in expected.values())
    await receiver.wait_for(total, timeout=120)
    secrets = {"/all": everything.secret, "/orders": orders.secret, "/eu": europe.secret}
    for path, ids in expected.items():
        got = receiver.at(path)
        assert {r.headers["webhook-id"] for r in got} == ids, path
        verifier = Webhook(secrets[path])
        for request in got:
            event = verifier.verify(request.body, request.headers)
            assert event["data"]["name"] == "Zoë"
            assert b"Zo\xc3\xab" in request.body  # UTF-8, not \u escaped
            assert b", " not in request.body and b": " not in request.body
            assert request.headers["Content-Type"] == "application/json"
            assert request.headers["User-Agent"].startswith("Hookline/")


async def test_hex_schemes_sign_the_raw_body_with_the_secret_bytes(
    runtime: Runtime, receiver: Receiver
) -> None:
    svc = runtime.service
    app = await svc.create_app("hex")
    sha256 = await svc.create_endpoint(
        app.id, url=receiver.url("/sha256"), secret="partnero-signing-secret",
        options=DeliveryOptions(signature_scheme="hmac-sha256-hex", signature_header="Signature",
                                envelope="partnero"))
    sha512 = await svc.create_endpoint(
        app.id, url=receiver.url("/sha512"), secret="a little secret",
        options=DeliveryOptions(signature_scheme="hmac-sha512-hex",
                                signature_header="Smile-Signature", envelope="smile"))
    await svc.publish(app.id, "partner.created", {"url": "https://x.example/a", "name": "Zoë"},
                      event_id="et-123")
    [partnero] = await receiver.wait_for(1, "/sha256")
    [smile] = await receiver.wait_for(1, "/sha512")

    expected = hmac.new(sha256.secret.encode(), partnero.body, hashlib.sha256).hexdigest()
    assert partnero.headers["Signature"] == expected
    assert b"https:\\/\\/x.example\\/a" in partnero.body and b"Zo\\u00eb" in partnero.body
    envelope = json.loads(partnero.body)
    assert set(envelope) == {"event", "url", "webhook_key", "created_at", "data"}

    expected = hmac.new(sha512.secret.encode(), smile.body, hashlib.sha512).hexdigest()
    assert smile.headers["Smile-Signature"] == expected
    envelope = json.loads(smile.body)
    assert envelope["id"] == "et-123" and envelope["version"] == 1
    assert envelope["type"] == "partner.created" and envelope["createdAt"].endswith("Z")


async def test_cr3dentials_receiver_that_reserializes_the_body_still_verifies(
    runtime: Runtime, receiver: Receiver
) -> None:
    """cr3dentials' sample code signs JSON.stringify(req.body): our bytes must survive that."""
    svc = runtime.service
    app = await svc.create_app("cr3")
    ep = await svc.create_endpoint(
        app.id, url=receiver.url("/cr3"), secret="cr3dentials-secret",
        options=DeliveryOptions(signature_scheme="hmac-sha256-hex",
                                signature_header="x-webhook-signature", envelope="cr3dentials",
                                retry_schedule=[1, 2, 4, 8, 16], disable_after_failures=5))
    await svc.publish(app.id, "verification.completed",
                      {"verificationId": "ver_abc123", "status": "VERIFIED", "city": "Zürich"})
    [request] = await receiver.wait_for(1, "/cr3")
    parsed = json.loads(request.body)
    assert parsed["type"] == "verification.completed" and parsed["status"] == "success"
    stringified = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
    expected = hmac.new(ep.secret.encode(), stringified, hashlib.sha256).hexdigest()
    assert request.headers["x-webhook-signature"] == expected


async def test_receiver_that_fails_twice_gets_three_attempts_spaced_by_the_schedule(
    runtime: Runtime, receiver: Receiver
) -> None:
    svc = runtime.service
    app = await svc.create_app("retry")
    receiver.statuses["/flaky"] = [500, 503, 200]
    await svc.create_endpoint(app.id, url=receiver.url("/flaky"),
                              options=DeliveryOptions(retry_schedule=[0.5, 1.0]))
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    got = await receiver.wait_for(3, "/flaky", timeout=15)

    attempts = await attempts_recorded(svc, app.id, 3, message_id=msg.id)
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert [a.attempt_number for a in attempts] == [1, 2, 3]
    gaps = [got[1].at - got[0].at, got[2].at - got[1].at]
    assert gaps[0] >= 0.5 * 0.9 and gaps[1] >= 1.0 * 0.9, gaps
    # Success ends it: nothing is left to send.
    assert await runtime.store.delivery_counts() == {str(DeliveryStatus.SUCCEEDED): 1}
    assert await runtime.store.next_due_at() is None


async def test_exhausted_schedule_fails_the_delivery(settings: Settings,
                                                     receiver: Receiver) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    try:
        svc = runtime.service
        app = await svc.create_app("exhaust")
        receiver.statuses["/down"] = [500]
        await svc.create_endpoint(app.id, url=receiver.url("/down"),
                                  options=DeliveryOptions(retry_schedule=[300, 1800]))
        msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
        for number, delay in enumerate([300, 1800], start=1):
            [*_, last] = await attempts_recorded(svc, app.id, number, message_id=msg.id)
            due = await runtime.store.next_due_at()
            assert due is not None  # the schedule's delay (±10 %) after the attempt ended
            ended = last.created_at + last.duration_ms / 1000
            assert delay * 0.9 <= due - ended <= delay * 1.1
            clock.advance(due - clock.now())
        attempts = await attempts_recorded(svc, app.id, 3, message_id=msg.id)
        assert [a.attempt_number for a in attempts] == [1, 2, 3]
        assert len(receiver.at("/down")) == 3
        # The third failure was the last: the delivery failed and nothing is due any more.
        assert await runtime.store.delivery_counts() == {str(DeliveryStatus.FAILED): 1}
        assert await runtime.store.next_due_at() is None
    finally:
        await runtime.stop()


async def test_redirects_are_failures_and_not_followed(runtime: Runtime,
                                                       receiver: Receiver) -> None:
    from aiohttp import web

    svc = runtime.service
    app = await svc.create_app("redirect")
    receiver.on("/moved", lambda r: web.Response(status=302,
                                                 headers={"Location": receiver.url("/target")}))
    await svc.create_endpoint(app.id, url=receiver.url("/moved"),
                              options=DeliveryOptions(retry_schedule=[]))
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    [attempt] = await attempts_recorded(svc, app.id, 1, message_id=msg.id)
    assert attempt.status_code == 302 and not attempt.succeeded
    assert receiver.at("/target") == []


async def test_timeout_is_recorded_as_its_own_error_kind(runtime: Runtime,
                                                        receiver: Receiver) -> None:
    async def hang(_: Any) -> Any:
        await asyncio.sleep(5)

    svc = runtime.service
    app = await svc.create_app("slow")
    receiver.on("/slow", hang)
    await svc.create_endpoint(app.id, url=receiver.url("/slow"),
                              options=DeliveryOptions(retry_schedule=[], timeout=0.5))
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    [attempt] = await attempts_recorded(svc, app.id, 1, message_id=msg.id)
    assert attempt.error_kind == "timeout" and 400 <= attempt.duration_ms < 2000


async def test_endpoint_is_disabled_after_consecutive_failures_and_keeps_pending_work(
    runtime: Runtime, receiver: Receiver
) -> None:
    svc = runtime.service
    app = await svc.create_app("disable")
    receiver.statuses["/bad"] = [500]
    ep = await svc.create_endpoint(
        app.id, url=receiver.url("/bad"),
        options=DeliveryOptions(retry_schedule=[0.1, 0.1, 30], disable_after_failures=3))
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    await wait_until(lambda: _disabled(runtime, app.id, ep.id), what="endpoint disabled")
    current = await svc.get_endpoint(app.id, ep.id)
    assert "3 consecutive failed attempts" in (current.disabled_reason or "")
    assert len(receiver.at("/bad")) == 3

    receiver.statuses["/bad"] = [200]
    await svc.update_endpoint(app.id, ep.id, disabled=False)
    await svc.resend(app.id, msg.id, ep.id)
    await wait_until(lambda: len(receiver.at("/bad")) >= 4, what="delivery after re-enable")


async def _disabled(rt: Runtime, app_id: str, ep_id: str) -> bool:
    return (await rt.service.get_endpoint(app_id, ep_id)).disabled


async def test_disabled_endpoint_receives_nothing_until_reenabled(
    settings: Settings, receiver: Receiver
) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    try:
        svc = runtime.service
        app = await svc.create_app("paused")
        ep = await svc.create_endpoint(app.id, url=receiver.url("/p"))
        other = await svc.create_endpoint(app.id, url=receiver.url("/other"))
        receiver.statuses["/p"] = [500]
        await svc.update_endpoint(app.id, ep.id, options=DeliveryOptions(retry_schedule=[60]))
        first = (await svc.publish(app.id, "a.b", {"x": 1})).message
        await attempts_recorded(svc, app.id, 1, endpoint_id=ep.id)
        await svc.update_endpoint(app.id, ep.id, disabled=True)
        clock.advance(120)  # the retry is due, but the endpoint is disabled
        # A later message to the other endpoint is a barrier: a claim that took it would
        # have taken the older retry too, and sent it at once.
        await svc.publish(app.id, "a.b", {"x": 2})
        await attempts_recorded(svc, app.id, 2, endpoint_id=other.id)
        held = await svc.list_attempts(app.id, 10, None, endpoint_id=ep.id)
        assert len(held.data) == 1 and len(receiver.at("/p")) == 1
        receiver.statuses["/p"] = [200]
        await svc.update_endpoint(app.id, ep.id, disabled=False)
        got = await receiver.wait_for(2, "/p")
        assert got[-1].headers["webhook-id"] == first.id
    finally:
        await runtime.stop()


async def test_idempotency_key_returns_the_first_message_and_creates_nothing(
    runtime: Runtime, receiver: Receiver
) -> None:
    svc = runtime.service
    app = await svc.create_app("idem")
    await svc.create_endpoint(app.id, url=receiver.url("/i"))
    first = await svc.publish(app.id, "a.b", {"x": 1}, idempotency_key="k1")
    again = await svc.publish(app.id, "a.b", {"x": 2}, idempotency_key="k1")
    assert first.created and not again.created
    assert again.message.id == first.message.id and again.message.payload == {"x": 1}
    await receiver.wait_for(1, "/i")
    # One delivery was created, and it is done: nothing more will arrive.
    assert await deliveries_settled(runtime) == {str(DeliveryStatus.SUCCEEDED): 1}
    assert len(receiver.at("/i")) == 1
    page = await svc.list_messages(app.id, 10, None)
    assert len(page.data) == 1


async def test_an_attempt_the_database_refuses_does_not_hold_back_its_batch(
    runtime: Runtime, receiver: Receiver
) -> None:
    from aiohttp import web

    real_record = runtime.store.record_results

    async def refuse_poison(results: Any, should_disable: Any) -> Any:
        if any("poison" in r.attempt.response_body for r in results):
            raise ValueError("the database refuses this row")
        return await real_record(results, should_disable)

    runtime.store.record_results = refuse_poison  # type: ignore[method-assign]
    receiver.on("/poison", lambda r: web.Response(text="poison"))
    svc = runtime.service
    app = await svc.create_app("poison")
    await svc.create_endpoint(app.id, url=receiver.url("/poison"))
    await svc.create_endpoint(app.id, url=receiver.url("/fine"))
    msg = (await svc.publish(app.id, "a.b", {"x": 1})).message
    attempts = {a.url: a for a in await attempts_recorded(svc, app.id, 2, message_id=msg.id)}
    assert attempts[receiver.url("/fine")].response_body == "ok"
    poisoned = attempts[receiver.url("/poison")]
    assert poisoned.succeeded and poisoned.response_body == ""
    assert "could not be stored" in (poisoned.error_detail or "")


async def test_recover_resends_failed_deliveries_created_within_the_window(
    settings: Settings, receiver: Receiver
) -> None:
    clock = FakeClock()
    runtime = await start_runtime_on(clock, settings)
    try:
        svc = runtime.service
        app = await svc.create_app("recover")
        receiver.statuses["/r"] = [500]
        ep = await svc.create_endpoint(app.id, url=receiver.url("/r"),
                                       options=DeliveryOptions(retry_schedule=[]))
        early = (await svc.publish(app.id, "a.b", {"n": 1})).message
        await receiver.wait_for(1, "/r")
        # Recorded before the clock jumps: a lease that ran out in fake time while its result
        # was still being written would send the message again (at least once).
        await attempts_recorded(svc, app.id, 1, message_id=early.id)
        cut = clock.advance(30)
        clock.advance(30)
        await svc.publish(app.id, "a.b", {"n": 2})
        await receiver.wait_for(2, "/r")
        assert await deliveries_settled(runtime) == {str(DeliveryStatus.FAILED): 2}

        receiver.statuses["/r"] = [200]
        assert await svc.recover(app.id, ep.id, since=early.created_at - 1, until=cut) == 1
        got = await receiver.wait_for(3, "/r")
        assert got[2].headers["webhook-id"] == early.id
        # Only the early delivery was resent: once it settles, nothing else is due.
        await attempts_recorded(svc, app.id, 2, message_id=early.id)
        assert await deliveries_settled(runtime) == {str(DeliveryStatus.FAILED): 1,
                                                     str(DeliveryStatus.SUCCEEDED): 1}
        assert len(receiver.at("/r")) == 3
    finally:
        await runtime.stop()


async def test_an_endpoint_never_gets_more_requests_at_once_than_its_cap(
    runtime: Runtime, receiver: Receiver
) -> None:
    slow = SlowAnswers(0.1)
    receiver.on("/capped", slow)
    svc = runtime.service
    app = await svc.create_app("capped")
    await svc.create_endpoint(app.id, url=receiver.url("/capped"),
                              options=DeliveryOptions(max_concurrency=2))
    await svc.create_endpoint(app.id, url=receiver.url("/free"))
    for n in range(12):
        await svc.publish(app.id, "a.b", {"n": n})
    await receiver.wait_for(12, "/free", timeout=5)  # the other endpoint is not held back
    await receiver.wait_for(12, "/capped", timeout=15)
    assert slow.peak == 2
    assert len({r.headers["webhook-id"] for r in receiver.at("/capped")}) == 12
    # Handed-back deliveries leave no attempt behind and keep their retry budget.
    capped = (await svc.list_endpoints(app.id, 10, None)).data[0]

    async def settled() -> list[Any]:
        page = await svc.list_attempts(app.id, 100, None, endpoint_id=capped.id)
        return page.data if len(page.data) == 12 else []

    attempts = await wait_until(settled, what="12 attempts recorded")
    assert len((await svc.list_attempts(app.id, 100, None, endpoint_id=capped.id)).data) == 12
    assert {a.attempt_number for a in attempts} == {1}


async def test_a_worker_loop_broken_by_a_bug_ends_instead_of_hanging(settings: Settings) -> None:
    """The process must exit (and be restarted, or seen stopped), not sit idle for ever: its
    recorder used to wait for a stop that never came."""
    rt = await Runtime.start(settings, with_worker=False)
    worker = DeliveryWorker(rt.store, settings, rt.transport)

    async def broken() -> None:
        raise RuntimeError("a bug in the idle round")

    worker._idle = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="a bug in the idle round"):
            await asyncio.wait_for(worker.run(), timeout=10)
    finally:
        await rt.stop()


async def test_a_cookie_a_receiver_sets_is_never_sent_back(runtime: Runtime,
                                                           receiver: Receiver) -> None:
    """Two endpoints on one host, one setting a cookie: nothing carries it to the next
    request, to it or to the other partner."""
    from aiohttp import web

    set_cookies: list[str] = []

    def setting_a_cookie(_: Any) -> web.Response:
        set_cookies.append("session")
        response = web.Response(text="ok")
        response.set_cookie("session", "partner-a-secret")
        return response

    receiver.on("/a", setting_a_cookie)
    svc = runtime.service
    app = await svc.create_app("cookies")
    for path in ("/a", "/b"):  # by name: aiohttp keeps no cookies for an IP address
        await svc.create_endpoint(app.id,
                                  url=receiver.url(path).replace("127.0.0.1", "localhost"))
    for n in range(3):
        await svc.publish(app.id, "a.b", {"n": n})
        await receiver.wait_for(2 * (n + 1))

    assert len(set_cookies) == 3
    assert all("Cookie" not in r.headers for r in receiver.requests)
