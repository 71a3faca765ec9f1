"""What a real delivery carries is what the receiver kit's `sign` produces for the same message,
header names as sent included, and the kit verifies it: during a rotation and with unpadded keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import standardwebhooks

from hookline.receiver import sign, verify
from tests.support.api import ApiServer
from tests.support.receiver import Received, Receiver

HEX = "hmac-sha256-hex"
OLD_PHRASE, NEW_PHRASE = "the old partner secret", "the new partner secret"


async def endpoint(api: ApiServer, receiver: Receiver, path: str, **fields: Any) -> str:
    app = (await api.post("/api/v1/app", {"name": path.strip("/")})).body
    created = await api.post(f"/api/v1/app/{app['id']}/endpoint",
                             {"url": receiver.url(path), **fields})
    assert created.status == 201, created.body
    return f"/api/v1/app/{app['id']}/endpoint/{created.body['id']}"


async def deliver_one(api: ApiServer, receiver: Receiver, endpoint_path: str,
                      path: str) -> Received:
    app_path = endpoint_path.rsplit("/endpoint/", 1)[0]
    published = await api.post(f"{app_path}/msg", {"eventType": "a.b", "payload": {"n": 1}})
    assert published.status == 202, published.body
    [request] = await receiver.wait_for(1, path)
    return request


def as_signed_by_the_kit(request: Received, secrets: list[str], scheme: str = "standard",
                         header: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The kit's headers for this very message, and the same headers as they arrived."""
    expected = sign(request.body, secrets, scheme, msg_id=request.headers["webhook-id"],
                    timestamp=int(request.headers["webhook-timestamp"]), header=header)
    return expected, {name: request.headers[name] for name in expected}


async def test_during_a_rotation_a_hex_endpoint_sends_what_the_kit_signs_with_the_new_secret(
    api: ApiServer, receiver: Receiver
) -> None:
    ep = await endpoint(api, receiver, "/hex", secret=OLD_PHRASE, signatureScheme=HEX,
                        signatureHeader="Signature")
    rotated = await api.post(f"{ep}/secret/rotate", {"key": NEW_PHRASE})
    assert rotated.status == 200, rotated.body

    request = await deliver_one(api, receiver, ep, "/hex")

    expected, sent = as_signed_by_the_kit(request, [NEW_PHRASE, OLD_PHRASE], HEX, "Signature")
    assert sent == expected
    assert sent["Signature"] == hmac.new(NEW_PHRASE.encode(), request.body,
                                         hashlib.sha256).hexdigest()
    assert verify(request.body, request.headers, [NEW_PHRASE, OLD_PHRASE], HEX,
                  header="Signature")


async def test_an_endpoint_with_an_unpadded_secret_signs_what_every_verifier_accepts(
    api: ApiServer, receiver: Receiver
) -> None:
    unpadded = "whsec_" + base64.b64encode(b"k" * 25).decode().rstrip("=")
    ep = await endpoint(api, receiver, "/unpadded", secret=unpadded)

    request = await deliver_one(api, receiver, ep, "/unpadded")

    expected, sent = as_signed_by_the_kit(request, [unpadded])
    assert sent == expected
    assert verify(request.body, request.headers, unpadded)
    assert standardwebhooks.Webhook(unpadded).verify(request.body, request.headers)
