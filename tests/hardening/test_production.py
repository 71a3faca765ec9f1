"""Production mode: endpoint URLs must be https:// (except networks the operator allowed) and
certificates are verified; a TLS failure is recorded as its own error kind."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from hookline.config import Settings
from hookline.models import DeliveryOptions
from tests.hardening.conftest import ServeApi, StartRuntime
from tests.hardening.support import FakeResolver, TlsReceiver
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver


@pytest.fixture
async def tls_receiver() -> AsyncIterator[TlsReceiver]:
    receiver = await TlsReceiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def production(strict_settings: Settings) -> Settings:
    return dataclasses.replace(strict_settings, production=True,
                               egress_allow=("127.0.0.1/32",))


async def test_untrusted_certificate_in_production_is_a_tls_failure(
    start_runtime: StartRuntime, production: Settings, tls_receiver: TlsReceiver,
    receiver: Receiver,
) -> None:
    runtime = await start_runtime(production)
    app = await runtime.service.create_app("tls")
    options = DeliveryOptions(retry_schedule=[])
    await runtime.service.create_endpoint(app.id, url=tls_receiver.url(), options=options)
    # https:// to a server that speaks plain HTTP fails the handshake too
    await runtime.service.create_endpoint(
        app.id, url=receiver.url().replace("http://", "https://"), options=options)

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    attempts = await attempts_recorded(runtime.service, app.id, 2, message_id=message.id)

    assert [a.error_kind for a in attempts] == ["tls", "tls"]
    details = " ".join(a.error_detail or "" for a in attempts)
    assert "CERTIFICATE_VERIFY_FAILED" in details and "WRONG_VERSION_NUMBER" in details
    assert tls_receiver.requests == [] and receiver.requests == []


async def test_development_mode_accepts_a_self_signed_receiver(
    start_runtime: StartRuntime, production: Settings, tls_receiver: TlsReceiver,
) -> None:
    runtime = await start_runtime(dataclasses.replace(production, production=False))
    app = await runtime.service.create_app("tls")
    await runtime.service.create_endpoint(app.id, url=tls_receiver.url())

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=message.id)

    assert attempt.succeeded and len(tls_receiver.requests) == 1


async def test_production_requires_https_except_for_allowed_networks(
    start_runtime: StartRuntime, serve_api: ServeApi, production: Settings,
) -> None:
    api = await serve_api(await start_runtime(production, with_worker=False))
    app = (await api.post("/api/v1/app", {"name": "prod"})).body
    create = f"/api/v1/app/{app['id']}/endpoint"

    plain = await api.post(create, {"url": "http://hooks.example.test/in"})
    plain_public_ip = await api.post(create, {"url": "http://93.184.216.34/in"})
    secure = await api.post(create, {"url": "https://hooks.example.test/in"})
    allowed = await api.post(create, {"url": "http://127.0.0.1:8080/in"})

    for refused in (plain, plain_public_ip):
        assert refused.status == 422
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert "must use https://" in refused.body["detail"]
        assert refused.body["field"] == "url"
    assert (secure.status, allowed.status) == (201, 201)


async def test_an_http_endpoint_saved_before_production_mode_is_refused_when_sending(
    start_runtime: StartRuntime, production: Settings, receiver: Receiver,
) -> None:
    # A partner's host name that resolves to the (allowed) receiver: reachable, but only a
    # literal allowed address may be sent plain http:// in production.
    dns = FakeResolver({"hooks.partner.test": [["127.0.0.1"]]})
    url = receiver.url().replace("127.0.0.1", "hooks.partner.test")
    development = await start_runtime(dataclasses.replace(production, production=False),
                                      resolver=dns)
    app = await development.service.create_app("legacy")
    await development.service.create_endpoint(app.id, url=url,
                                              options=DeliveryOptions(retry_schedule=[]))
    first = (await development.service.publish(app.id, "invoice.paid", {"n": 1})).message
    await attempts_recorded(development.service, app.id, 1, message_id=first.id)
    assert len(receiver.requests) == 1  # development mode delivers it
    await development.stop()

    runtime = await start_runtime(production, resolver=dns)
    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 2})).message
    [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=message.id)

    assert attempt.error_kind == "blocked"
    assert "https://" in (attempt.error_detail or "")
    assert len(receiver.requests) == 1
