"""Safe egress through the real delivery path: publish → worker → Sender, with the policy as
shipped (nothing blocked is allowed, loopback included). Webhook URLs come from outsiders, so
every spelling of an internal address must be refused, once, with the reason, and never
retried; and the internal receiver on loopback must get nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aiohttp import web

from hookline.config import Settings
from hookline.models import DeliveryOptions, DeliveryStatus
from tests.hardening.conftest import ServeApi, StartRuntime
from tests.hardening.support import FakeResolver, NetworkGuard, store_endpoint_unchecked
from tests.support.polling import attempts_of, attempts_recorded
from tests.support.receiver import Receiver

# A retry would come quickly if a refusal were (wrongly) retryable.
QUICK_RETRIES = DeliveryOptions(retry_schedule=[0.1, 0.1], timeout=2.0)

# URL template ({port} is the loopback receiver's) -> what the refusal must say.
BLOCKED = {
    "http://127.0.0.1:{port}/hook": "127.0.0.1 is a loopback address",
    "http://2130706433:{port}/hook": "2130706433 is 127.0.0.1, which is a loopback address",
    "http://127.1:{port}/hook": "127.1 is 127.0.0.1, which is a loopback address",
    "http://0x7f.1:{port}/hook": "0x7f.1 is 127.0.0.1, which is a loopback address",
    "http://0177.0.0.1:{port}/hook": "0177.0.0.1 is 127.0.0.1, which is a loopback address",
    "http://[::ffff:127.0.0.1]:{port}/hook": "the IPv4-mapped form of 127.0.0.1",
    "http://[::1]:{port}/hook": "::1 is a loopback address",
    "http://0.0.0.0:{port}/hook": "0.0.0.0 is an unspecified",
    "http://localhost:{port}/hook": "localhost means 127.0.0.1, which is a loopback address",
    "http://hooks.localhost:{port}/hook": "hooks.localhost means 127.0.0.1",
    "http://169.254.169.254/latest/meta-data/": "the link-local cloud metadata address",
    "http://10.0.0.1/": "a private (RFC 1918) address",
    "http://172.16.0.1/": "a private (RFC 1918) address",
    "http://192.168.1.1/": "a private (RFC 1918) address",
    "http://100.64.0.1/": "a carrier-grade NAT (RFC 6598) address",
    "http://[fd00::1]/": "a unique-local address",
    "http://[fe80::1]/": "a link-local address",
    "http://loopback.example.test:{port}/hook":
        "loopback.example.test resolves to 127.0.0.1, which is a loopback address",
    "http://mapped.example.test:{port}/hook":
        "mapped.example.test resolves to ::ffff:7f00:1, which is the IPv4-mapped form of "
        "127.0.0.1",
    "http://metadata.example.test/":
        "metadata.example.test resolves to 169.254.169.254, which is the link-local cloud",
    "http://private.example.test/": "private.example.test resolves to 10.1.2.3",
    "http://mixed.example.test/": "mixed.example.test resolves to 192.168.0.10",
}


def internal_dns() -> FakeResolver:
    return FakeResolver({
        "loopback.example.test": [["127.0.0.1"]],
        "mapped.example.test": [["::ffff:127.0.0.1"]],
        "metadata.example.test": [["169.254.169.254"]],
        "private.example.test": [["10.1.2.3"]],
        # One public and one private answer: the whole name is refused.
        "mixed.example.test": [["93.184.216.34", "192.168.0.10"]],
    })


async def test_every_spelling_of_an_internal_address_is_blocked_once_and_not_retried(
    start_runtime: StartRuntime, strict_settings: Settings, receiver: Receiver,
    guard: NetworkGuard,
) -> None:
    runtime = await start_runtime(strict_settings, resolver=internal_dns())
    app = await runtime.service.create_app("ssrf")
    endpoints = {}
    for template in BLOCKED:
        url = template.format(port=receiver.port)
        endpoints[url] = await store_endpoint_unchecked(runtime, app.id, url, QUICK_RETRIES)

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    await attempts_recorded(runtime.service, app.id, len(BLOCKED), message_id=message.id)
    # Recorded with its attempt: a retryable outcome would have left the delivery pending.
    assert await runtime.store.delivery_counts() == {str(DeliveryStatus.FAILED): len(BLOCKED)}

    wrong = {}
    for reason, (url, endpoint) in zip(BLOCKED.values(), endpoints.items(), strict=True):
        attempts = await attempts_of(runtime.service, app.id, endpoint_id=endpoint.id)
        seen = [(a.error_kind, a.error_detail) for a in attempts]
        if (len(attempts) != 1 or attempts[0].error_kind != "blocked"
                or reason not in (attempts[0].error_detail or "")
                or "HOOKLINE_EGRESS_ALLOW" not in (attempts[0].error_detail or "")):
            wrong[url] = seen
    assert wrong == {}
    assert await runtime.store.delivery_counts() == {str(DeliveryStatus.FAILED): len(BLOCKED)}
    assert receiver.requests == []
    assert guard.connected == []  # not even a connection attempt


async def test_loopback_receiver_gets_the_delivery_once_loopback_is_allowed(
    start_runtime: StartRuntime, sqlite_url: str, tmp_path: Path, receiver: Receiver,
) -> None:
    settings = Settings.from_env({
        "HOOKLINE_DATABASE_URL": sqlite_url, "HOOKLINE_DATA_DIR": str(tmp_path),
        "HOOKLINE_SECRET_KEY": "k", "HOOKLINE_EGRESS_ALLOW": "127.0.0.0/8, ::1/128",
        "HOOKLINE_POLL_INTERVAL": "0.2"})
    resolver = FakeResolver({"loopback.example.test": [["127.0.0.1"]],
                             "localhost": [["127.0.0.1"]]})
    runtime = await start_runtime(settings, resolver=resolver)
    app = await runtime.service.create_app("allowed")
    spellings = ["http://127.0.0.1:{port}/a", "http://[::ffff:127.0.0.1]:{port}/b",
                 "http://loopback.example.test:{port}/c", "http://localhost:{port}/d"]
    for template in spellings:
        await runtime.service.create_endpoint(app.id, url=template.format(port=receiver.port))

    await runtime.service.publish(app.id, "invoice.paid", {"n": 1})

    got = await receiver.wait_for(len(spellings))
    assert sorted(r.path for r in got) == ["/a", "/b", "/c", "/d"]


async def test_redirect_to_the_metadata_address_is_a_failure_and_never_followed(
    start_runtime: StartRuntime, strict_settings: Settings, receiver: Receiver,
    guard: NetworkGuard,
) -> None:
    """Redirects are not followed: a receiver could otherwise point us anywhere after the
    destination check."""
    settings = dataclasses.replace(strict_settings, egress_allow=("127.0.0.1/32",))
    receiver.on("/metadata", lambda _: web.Response(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/iam/"}))
    receiver.on("/elsewhere", lambda _: web.Response(
        status=307, headers={"Location": receiver.url("/target")}))
    runtime = await start_runtime(settings)
    app = await runtime.service.create_app("redirects")
    for path in ("/metadata", "/elsewhere"):
        await runtime.service.create_endpoint(app.id, url=receiver.url(path),
                                              options=DeliveryOptions(retry_schedule=[]))

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    attempts = await attempts_recorded(runtime.service, app.id, 2, message_id=message.id)

    assert sorted((a.status_code, a.error_kind, a.succeeded) for a in attempts) == [
        (302, "http_status", False), (307, "http_status", False)]
    assert receiver.at("/target") == []
    assert set(guard.connected) == {"127.0.0.1"}


async def test_name_that_rebinds_to_loopback_is_delivered_only_to_the_address_checked(
    start_runtime: StartRuntime, strict_settings: Settings,
) -> None:
    """DNS rebinding: the first answer is allowed, every later one is internal. The request
    must go to the address that was checked, and a later lookup must be blocked. 127.0.0.2
    stands in for a public address so that no packet leaves the machine."""
    public = await Receiver(host="127.0.0.2").start()
    internal = await Receiver(host="127.0.0.1", port=public.port).start()
    try:
        settings = dataclasses.replace(strict_settings, egress_allow=("127.0.0.2/32",))
        resolver = FakeResolver({"rebind.example.test": [["127.0.0.2"], ["127.0.0.1"]]})
        runtime = await start_runtime(settings, resolver=resolver)
        app = await runtime.service.create_app("rebind")
        await runtime.service.create_endpoint(
            app.id, url=f"http://rebind.example.test:{public.port}/hook",
            options=DeliveryOptions(retry_schedule=[]))

        await runtime.service.publish(app.id, "invoice.paid", {"n": 1})
        await public.wait_for(1)
        assert runtime.sender is not None
        await runtime.sender.close()  # as after a restart: no cached answer
        second = (await runtime.service.publish(app.id, "invoice.paid", {"n": 2})).message
        [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=second.id)

        assert attempt.error_kind == "blocked"
        assert "rebind.example.test resolves to 127.0.0.1" in (attempt.error_detail or "")
        assert internal.requests == [] and len(public.requests) == 1
        assert resolver.lookups == ["rebind.example.test", "rebind.example.test"]
    finally:
        await internal.stop()
        await public.stop()


async def test_endpoint_with_a_blocked_address_is_refused_with_422_that_says_why(
    start_runtime: StartRuntime, serve_api: ServeApi, strict_settings: Settings,
) -> None:
    api = await serve_api(await start_runtime(strict_settings, with_worker=False))
    app = (await api.post("/api/v1/app", {"name": "ssrf"})).body
    create = f"/api/v1/app/{app['id']}/endpoint"

    refused = {}
    for template, reason in BLOCKED.items():
        if "example.test" in template:
            continue  # host names are checked when the delivery connects
        url = template.format(port=8080)
        response = await api.post(create, {"url": url})
        refused[url] = (response.status, response.headers.get("Content-Type"),
                        reason in response.body.get("detail", ""), response.body.get("field"))
    public = await api.post(create, {"url": "https://hooks.example.test/in"})

    assert set(refused.values()) == {(422, "application/problem+json", True, "url")}, refused
    assert public.status == 201
