"""What the server sends and what the receiver kit's `sign` produces are the same headers, for
every scheme and during a rotation, and the kit verifies them; secrets mean the same key to both."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks

import hookline.signing
from hookline.errors import InvalidInput
from hookline.receiver import SCHEMES, STANDARD, WebhookVerificationError, sign, verify
from hookline.signing import DEFAULT_HEX_HEADER, signature_headers, validate_secret

BODY = '{"type":"invoice.paid","data":{"note":"café"}}'.encode()
MSG_ID = "msg_2LJyk0HTaYmNNtgFBzLwoxi1xYz"
NOW = 1_700_000_000
NEW_KEY, OLD_KEY = b"n" * 32, b"o" * 32
STANDARD_SECRETS = ["whsec_" + base64.b64encode(NEW_KEY).decode(),
                    "whsec_" + base64.b64encode(OLD_KEY).decode()]
HEX_SECRETS = ["the new partner secret", "the old partner secret"]
SERVER_SIGNING = Path(hookline.signing.__file__)
HEX_DIGESTS = {"hmac-sha256-hex": hashlib.sha256, "hmac-sha512-hex": hashlib.sha512}


def secrets_for(scheme: str, count: int) -> list[str]:
    """`count` secrets, newest first, as `Endpoint.signing_secrets` lists them."""
    return (STANDARD_SECRETS if scheme == STANDARD else HEX_SECRETS)[:count]


@pytest.mark.parametrize("header", [None, "Smile-Signature"])
@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_server_and_the_kits_sign_write_the_same_headers_and_the_kit_verifies_them(
    scheme: str, count: int, header: str | None,
) -> None:
    secrets = secrets_for(scheme, count)

    sent = signature_headers(scheme, secrets, MSG_ID, NOW, BODY, header)

    assert sent == sign(BODY, secrets, scheme, msg_id=MSG_ID, timestamp=NOW, header=header)
    assert verify(BODY, sent, secrets, scheme, header=header, now=NOW) == {
        "type": "invoice.paid", "data": {"note": "café"}}


def test_during_a_rotation_a_standard_signature_verifies_for_either_secret_alone() -> None:
    sent = signature_headers(STANDARD, STANDARD_SECRETS, MSG_ID, NOW, BODY)

    assert len(sent["webhook-signature"].split()) == 2
    for secret in STANDARD_SECRETS:
        assert verify(BODY, sent, secret, now=NOW)


@pytest.mark.parametrize("scheme", sorted(HEX_DIGESTS))
def test_during_a_rotation_a_hex_header_carries_the_newest_secrets_digest_only(
    scheme: str,
) -> None:
    new, old = HEX_SECRETS
    expected = hmac.new(new.encode(), BODY, HEX_DIGESTS[scheme]).hexdigest()

    sent = signature_headers(scheme, [new, old], MSG_ID, NOW, BODY)
    signed = sign(BODY, [new, old], scheme, msg_id=MSG_ID, timestamp=NOW)

    assert sent[DEFAULT_HEX_HEADER] == signed[DEFAULT_HEX_HEADER] == expected
    with pytest.raises(WebhookVerificationError, match="bad_signature"):
        verify(BODY, sent, old, scheme, now=NOW)


def test_an_unpadded_secret_is_accepted_by_both_and_means_the_padded_key() -> None:
    padded = "whsec_" + base64.b64encode(b"k" * 25).decode()
    unpadded = padded.rstrip("=")
    assert unpadded != padded

    validate_secret(unpadded, STANDARD)  # the server accepts it, as standardwebhooks does
    sent = signature_headers(STANDARD, [unpadded], MSG_ID, NOW, BODY)

    assert sent == sign(BODY, unpadded, msg_id=MSG_ID, timestamp=NOW)
    assert sent == sign(BODY, padded, msg_id=MSG_ID, timestamp=NOW)
    assert verify(BODY, sent, padded, now=NOW)
    reference = standardwebhooks.Webhook(unpadded).sign(
        MSG_ID, datetime.fromtimestamp(NOW, tz=UTC), BODY.decode())
    assert sent["webhook-signature"] == reference


@pytest.mark.parametrize("secret", ["whsec_not*base64!", "whsec_a", "whsec_" + "QUFB" * 2,
                                    f" {STANDARD_SECRETS[0]}\n"])
def test_the_server_refuses_a_secret_that_is_not_base64_or_too_short(secret: str) -> None:
    with pytest.raises(InvalidInput):
        validate_secret(secret, STANDARD)


def test_the_server_computes_no_signature_of_its_own() -> None:
    # The schemes live once, in the kit: a second HMAC in signing.py would be a second definition.
    imported = {alias.name for node in ast.walk(ast.parse(SERVER_SIGNING.read_text()))
                if isinstance(node, ast.Import) for alias in node.names}

    assert imported.isdisjoint({"hmac", "hashlib"})
