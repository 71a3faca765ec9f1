"""One masking rule: any header whose name looks like a credential is hidden, in any case."""

from __future__ import annotations

import pytest

from hookline.delivery.request import prepare_request
from hookline.models import DeliveryOptions, Endpoint, Message
from hookline.redaction import REDACTED, is_credential_name, redact_headers

CREDENTIAL_NAMES = [
    "Authorization", "X-Auth", "X-Api-Key", "x-token", "X-Client-Secret", "x-pass",
    "X-Password", "x-bearer", "X-HMAC", "x-jwt", "X-Signature", "X-Session-Id", "Cookie",
    "X-Credential", "PROXY-AUTHORIZATION", "x-Webhook-Signing-KEY",
]
PLAIN_NAMES = ["X-Tenant", "Content-Language", "X-Request-Id", "User-Agent", "X-Env"]


@pytest.mark.parametrize("name", CREDENTIAL_NAMES)
def test_a_credential_like_header_is_masked(name: str) -> None:
    assert is_credential_name(name)
    assert redact_headers({name: "s3cret"}) == {name: REDACTED}


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_an_ordinary_header_is_shown(name: str) -> None:
    assert not is_credential_name(name)
    assert redact_headers({name: "v"}) == {name: "v"}


def test_the_signature_computed_for_a_request_stays_readable_but_a_custom_one_is_masked() -> None:
    endpoint = Endpoint(id="ep_1", app_id="app_1", url="http://127.0.0.1:9/",
                        secret="whsec_" + "A" * 32,
                        headers={"X-Signature": "static-shared-secret", "X-Jwt": "eyJ"},
                        options=DeliveryOptions(signature_scheme="hmac-sha256-hex",
                                                signature_header="X-Hub-Signature-256"))
    message = Message(id="msg_1", app_id="app_1", event_type="a.b", payload={"a": 1})
    request = prepare_request(message, endpoint, 1_700_000_000.0)

    shown = request.redacted_headers()

    assert shown["X-Signature"] == shown["X-Jwt"] == REDACTED
    assert shown["X-Hub-Signature-256"] == request.headers["X-Hub-Signature-256"] != REDACTED
