"""Properties of what the server sends, over arbitrary payloads: every envelope and JSON style
carries the payload intact, standard signatures verify with the reference `standardwebhooks`
package, and the receiver kit rejects any single changed byte of what a signature covers."""

from __future__ import annotations

import base64
import json
import string
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from hookline.envelopes import ENVELOPES, JSON_STYLES, PHP, build_body
from hookline.models import DeliveryOptions, Endpoint, Message
from hookline.receiver import WebhookVerificationError, verify
from hookline.signing import DEFAULT_HEX_HEADER, SCHEMES, STANDARD, signature_headers

quick = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=25,
)
payloads = st.dictionaries(st.text(), json_values, max_size=6)
event_types = st.from_regex(r"[a-z][a-z0-9_]{0,10}(\.[a-z0-9_]{1,10}){0,2}", fullmatch=True)
msg_ids = st.text(string.ascii_letters + string.digits, min_size=1, max_size=27).map(
    lambda tail: "msg_" + tail)
standard_secrets = st.binary(min_size=24, max_size=64).map(
    lambda key: "whsec_" + base64.b64encode(key).decode())
hex_secrets = st.text(string.ascii_letters + string.digits + "-_ !#", min_size=8, max_size=64)


def message_and_endpoint(payload: dict[str, Any], event_type: str, msg_id: str,
                         envelope: str = "standard", style: str | None = None,
                         ) -> tuple[Message, Endpoint]:
    message = Message(id=msg_id, app_id="app_1", event_type=event_type, payload=payload,
                      event_id="evt_1", created_at=1_700_000_000.25)
    endpoint = Endpoint(id="ep_1", app_id="app_1", url="https://hooks.example.test/in/é",
                        secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
                        options=DeliveryOptions(envelope=envelope, json_style=style))
    return message, endpoint


@quick
@given(payload=payloads, event_type=event_types, msg_id=msg_ids,
       envelope=st.sampled_from(sorted(ENVELOPES)),
       style=st.sampled_from([None, *JSON_STYLES]))
def test_any_payload_survives_every_envelope_and_json_style(
    payload: dict[str, Any], event_type: str, msg_id: str, envelope: str, style: str | None,
) -> None:
    message, endpoint = message_and_endpoint(payload, event_type, msg_id, envelope, style)

    body = build_body(message, endpoint)

    assert json.loads(body) == ENVELOPES[envelope](message, endpoint)
    if (style or ("php" if envelope == "partnero" else None)) == PHP:
        assert body.isascii() and b"/" not in body.replace(b"\\/", b"")


@quick
@given(payload=payloads, event_type=event_types, msg_id=msg_ids,
       secrets=st.lists(standard_secrets, min_size=1, max_size=2),
       envelope=st.sampled_from(sorted(ENVELOPES)))
def test_standard_signatures_verify_with_the_standardwebhooks_package(
    payload: dict[str, Any], event_type: str, msg_id: str, secrets: list[str], envelope: str,
) -> None:
    message, endpoint = message_and_endpoint(payload, event_type, msg_id, envelope)
    body = build_body(message, endpoint)

    headers = signature_headers(STANDARD, secrets, msg_id, int(time.time()), body)

    for secret in secrets:  # during a rotation, either secret verifies
        assert Webhook(secret).verify(body, headers) == json.loads(body)


def signed(scheme: str, secret: str, payload: dict[str, Any], msg_id: str,
           timestamp: int) -> tuple[bytes, dict[str, str]]:
    message, endpoint = message_and_endpoint(payload, "invoice.paid", msg_id)
    body = build_body(message, endpoint)
    return body, signature_headers(scheme, [secret], msg_id, timestamp, body)


def rejected(body: bytes, headers: dict[str, str], secret: str, scheme: str,
             now: int) -> bool:
    try:
        verify(body, headers, secret, scheme=scheme, now=now)
    except WebhookVerificationError:
        return True
    return False


def change_char(text: str, index: int, replacement: str) -> str:
    return text[:index] + replacement + text[index + 1:]


NOW = 1_700_000_000
scheme_and_secret = st.one_of(
    st.tuples(st.just(STANDARD), standard_secrets),
    st.tuples(st.sampled_from([s for s in SCHEMES if s != STANDARD]), hex_secrets),
)


@quick
@given(signer=scheme_and_secret, payload=payloads, msg_id=msg_ids, data=st.data())
def test_any_changed_body_byte_is_rejected(
    signer: tuple[str, str], payload: dict[str, Any], msg_id: str, data: st.DataObject,
) -> None:
    scheme, secret = signer
    body, headers = signed(scheme, secret, payload, msg_id, NOW)
    assert not rejected(body, headers, secret, scheme, NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))

    assert rejected(body[:index] + bytes([new]) + body[index + 1:], headers, secret, scheme,
                    NOW)


@quick
@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@given(secret=standard_secrets, payload=payloads, msg_id=msg_ids, data=st.data())
def test_any_changed_character_of_a_standard_signed_header_is_rejected(
    header: str, secret: str, payload: dict[str, Any], msg_id: str, data: st.DataObject,
) -> None:
    body, headers = signed(STANDARD, secret, payload, msg_id, NOW)
    assert not rejected(body, headers, secret, STANDARD, NOW)
    value = headers[header]
    index = data.draw(st.integers(0, len(value) - 1))
    new = data.draw(st.characters(codec="utf-8").filter(lambda c: c != value[index]))

    assert rejected(body, {**headers, header: change_char(value, index, new)}, secret,
                    STANDARD, NOW)


@quick
@given(scheme=st.sampled_from([s for s in SCHEMES if s != STANDARD]), secret=hex_secrets,
       payload=payloads, msg_id=msg_ids, data=st.data())
def test_any_changed_character_of_a_hex_signature_is_rejected(
    scheme: str, secret: str, payload: dict[str, Any], msg_id: str, data: st.DataObject,
) -> None:
    body, headers = signed(scheme, secret, payload, msg_id, NOW)
    assert not rejected(body, headers, secret, scheme, NOW)
    value = headers[DEFAULT_HEX_HEADER]
    index = data.draw(st.integers(0, len(value) - 1))
    # Hex is case-insensitive: "A" and "a" are the same digit, not a changed signature.
    new = data.draw(st.characters(codec="utf-8").filter(
        lambda c: c.lower() != value[index].lower()))

    assert rejected(body, {**headers, DEFAULT_HEX_HEADER: change_char(value, index, new)},
                    secret, scheme, NOW)
