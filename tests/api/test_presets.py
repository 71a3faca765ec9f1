"""`"preset": NAME` sets a specification's whole delivery contract on endpoint create, and each
preset's delivery verifies with that specification's own sample receiver, ported line by line
from the seed specification (docs/presets.md shows the same receivers)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import standardwebhooks
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from tests.api.test_smile import smile_signature_verifies
from tests.support.api import ApiServer
from tests.support.receiver import Received, Receiver

HEX_SECRET = "a partner's signing secret"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PAYLOAD = {"id": "doc_42", "url": "https://x.example/a", "name": "Zoë"}


def cr3dentials_sample(request: Received, secret: str) -> bool:
    """cr3dentials' Node sample: HMAC-SHA256 hex of JSON.stringify(req.body), compared with
    x-webhook-signature."""
    stringified = json.dumps(json.loads(request.body), separators=(",", ":"),
                             ensure_ascii=False).encode()
    expected = hmac.new(secret.encode(), stringified, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-webhook-signature"], expected)


def partnero_sample(request: Received, secret: str) -> bool:
    """Partnero's PHP sample: hash_hmac('sha256', php://input, $secret) against
    $_SERVER['HTTP_SIGNATURE'], with hash_equals."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("Signature", ""))


def smile_sample(request: Received, secret: str) -> bool:
    return smile_signature_verifies(request.body, request.headers["Smile-Signature"], secret)


def svix_sample(request: Received, secret: str) -> bool:
    """Svix's own library, as Svix's docs tell receivers to verify."""
    try:
        SvixWebhook(secret).verify(request.body, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


def standard_sample(request: Received, secret: str) -> bool:
    """The Standard Webhooks reference library (Tradevest prescribes no verification)."""
    try:
        standardwebhooks.Webhook(secret).verify(request.body, dict(request.headers))
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


# preset -> (secret, the spec's receiver, the body it expects, the options read back)
CASES: dict[str, tuple[str, Callable[[Received, str], bool], Callable[[Any], bool],
                       dict[str, Any]]] = {
    "smile": (HEX_SECRET, smile_sample,
              lambda b: set(b) == {"id", "version", "type", "createdAt", "data"},
              {"signatureScheme": "hmac-sha512-hex", "signatureHeader": "Smile-Signature",
               "envelope": "smile", "retrySchedule": [30.0, 30.0], "timeout": 10.0,
               "disableAfterFailures": None, "disableAfterSeconds": None}),
    "cr3dentials": (HEX_SECRET, cr3dentials_sample,
                    lambda b: set(b) == {"type", "status", "data"},
                    {"signatureScheme": "hmac-sha256-hex",
                     "signatureHeader": "x-webhook-signature", "envelope": "cr3dentials",
                     "retrySchedule": [1.0, 2.0, 4.0, 8.0, 16.0], "timeout": 10.0,
                     "disableAfterFailures": 5, "disableAfterSeconds": None}),
    "partnero": (HEX_SECRET, partnero_sample,
                 lambda b: set(b) == {"event", "url", "webhook_key", "created_at", "data"},
                 {"signatureScheme": "hmac-sha256-hex", "signatureHeader": "Signature",
                  "envelope": "partnero", "retrySchedule": [60.0, 300.0, 1800.0, 7200.0],
                  "timeout": 5.0, "disableAfterFailures": None, "disableAfterSeconds": None}),
    "svix": (STANDARD_SECRET, svix_sample, lambda b: b == PAYLOAD,
             {"signatureScheme": "standard", "envelope": "raw", "timeout": 15.0,
              "retrySchedule": [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
              "disableAfterSeconds": 432000.0}),
    "standard": (STANDARD_SECRET, standard_sample,
                 lambda b: set(b) == {"type", "timestamp", "data"},
                 {"signatureScheme": "standard", "envelope": "standard", "timeout": 10.0,
                  "retrySchedule": [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
                  "disableAfterSeconds": 432000.0}),
    "tradevest": (STANDARD_SECRET, standard_sample, lambda b: b == PAYLOAD,
                  {"signatureScheme": "standard", "envelope": "raw", "timeout": 10.0}),
}


async def new_app(api: ApiServer, name: str) -> str:
    app: str = (await api.post("/api/v1/app", {"name": name})).body["id"]
    return app


async def test_each_presets_delivery_verifies_with_its_specifications_sample_receiver(
        api: ApiServer, receiver: Receiver) -> None:
    app = await new_app(api, "presets")
    for preset, (secret, _, _, options) in CASES.items():
        created = await api.post(f"/api/v1/app/{app}/endpoint", {
            "url": receiver.url(f"/{preset}"), "preset": preset, "secret": secret})
        assert created.status == 201, created.body
        assert {k: created.body[k] for k in options} == options, preset

    await api.post(f"/api/v1/app/{app}/msg", {"eventType": "document.created",
                                               "payload": PAYLOAD})
    for preset, (secret, sample_receiver, body_shape, _) in CASES.items():
        [request] = await receiver.wait_for(1, f"/{preset}")
        assert sample_receiver(request, secret), preset
        assert body_shape(json.loads(request.body)), preset
        tampered = Received(request.path, request.headers,
                            request.body.replace(b"42", b"43"), request.at)
        assert not sample_receiver(tampered, secret), preset


async def test_fields_beside_a_preset_override_it_and_an_unknown_preset_is_refused(
        api: ApiServer, receiver: Receiver) -> None:
    app = await new_app(api, "override")
    created = await api.post(f"/api/v1/app/{app}/endpoint", {
        "url": receiver.url("/o"), "preset": "cr3dentials", "secret": HEX_SECRET,
        "retrySchedule": [2, 4], "timeout": 3, "disableAfterFailures": None})
    assert created.status == 201, created.body

    read = (await api.get(f"/api/v1/app/{app}/endpoint/{created.body['id']}")).body
    assert (read["retrySchedule"], read["timeout"], read["disableAfterFailures"]) == \
        ([2.0, 4.0], 3.0, None)
    assert (read["envelope"], read["signatureHeader"]) == ("cr3dentials", "x-webhook-signature")

    refused = await api.post(f"/api/v1/app/{app}/endpoint",
                             {"url": receiver.url("/u"), "preset": "stripe"})
    assert refused.status == 422 and refused.body["field"] == "preset", refused.body
    assert "partnero" in refused.body["detail"]


async def test_the_smile_route_takes_another_preset(api: ApiServer, receiver: Receiver) -> None:
    app = await new_app(api, "smile-route")
    token = (await api.post(f"/api/v1/app/{app}/token", {"name": "t"})).body["token"]
    registered = await api.post("/v1/webhooks", {
        "url": receiver.url("/p"), "eventTypes": "ALL_EVENTS", "secret": HEX_SECRET,
        "preset": "partnero"}, token=token)
    assert registered.status == 201, registered.body

    await api.post(f"/api/v1/app/{app}/msg", {"eventType": "partner.created",
                                               "payload": PAYLOAD})
    [request] = await receiver.wait_for(1, "/p")
    assert partnero_sample(request, HEX_SECRET)
    assert b"https:\\/\\/x.example\\/a" in request.body  # PHP json_encode's bytes
