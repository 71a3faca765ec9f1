"""What `verify` accepts and refuses, scheme by scheme, with the reason it gives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
import time
from typing import Any

import pytest

from hookline.receiver import Webhook, WebhookVerificationError, sign, verify, verify_signature
from tests.receiver.support import SECRET

BODY = b'{"type":"user.created","data":{"id":"usr_1"}}'
NOW = 1_700_000_000
OTHER_SECRET = "whsec_" + "c29tZWJvZHktZWxzZXMtc2VjcmV0LWtleS0xMjM0NTY3"


def signed(body: bytes = BODY, secret: Any = SECRET, **kwargs: Any) -> dict[str, str]:
    return sign(body, secret, msg_id="msg_1", timestamp=NOW, **kwargs)


def reason_for(body: bytes, headers: Any, secret: Any = SECRET, **kwargs: Any) -> str:
    kwargs.setdefault("now", NOW)
    with pytest.raises(WebhookVerificationError) as caught:
        verify(body, headers, secret, **kwargs)
    return caught.value.reason


# --- standard scheme -------------------------------------------------------------------------


def test_a_correctly_signed_request_returns_the_parsed_body() -> None:
    assert verify(BODY, signed(), SECRET, now=NOW) == {"type": "user.created",
                                                       "data": {"id": "usr_1"}}


def test_a_tampered_body_is_refused_as_bad_signature() -> None:
    assert reason_for(BODY.replace(b"usr_1", b"usr_2"), signed()) == "bad_signature"


def test_a_request_signed_with_another_secret_is_refused() -> None:
    assert reason_for(BODY, signed(secret=OTHER_SECRET)) == "bad_signature"


def test_a_changed_message_id_is_refused() -> None:
    headers = signed() | {"webhook-id": "msg_2"}

    assert reason_for(BODY, headers) == "bad_signature"


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_timestamp_more_than_five_minutes_away_is_refused(age: int) -> None:
    assert reason_for(BODY, signed(), now=NOW + age) == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("age", [300, -300, 0])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(age: int) -> None:
    assert verify(BODY, signed(), SECRET, now=NOW + age)


def test_the_tolerance_can_be_changed() -> None:
    assert verify(BODY, signed(), SECRET, now=NOW + 3000, tolerance=3600)
    assert reason_for(BODY, signed(), now=NOW + 61, tolerance=60) == "timestamp_out_of_tolerance"


def test_the_clock_is_the_real_one_by_default() -> None:
    assert verify(BODY, sign(BODY, SECRET), SECRET)
    with pytest.raises(WebhookVerificationError, match="timestamp_out_of_tolerance"):
        verify(BODY, signed(), SECRET)  # signed in 2023


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused_naming_it(missing: str) -> None:
    headers = {k: v for k, v in signed().items() if k != missing}

    with pytest.raises(WebhookVerificationError) as caught:
        verify(BODY, headers, SECRET, now=NOW)

    assert caught.value.reason == "missing_header"
    assert missing in str(caught.value)


def test_no_headers_at_all_is_a_missing_header() -> None:
    assert reason_for(BODY, {}) == "missing_header"


@pytest.mark.parametrize("timestamp", ["1700000000.5", "17e8", "yesterday", "-1700000000"])
def test_a_timestamp_that_is_not_integer_seconds_is_malformed(timestamp: str) -> None:
    assert reason_for(BODY, signed() | {"webhook-timestamp": timestamp}) == "malformed_header"


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in signed().items()}

    assert verify(BODY, headers, SECRET, now=NOW)


def test_headers_may_be_a_list_of_pairs_even_of_bytes_as_asgi_gives_them() -> None:
    pairs = [(name.encode(), value.encode()) for name, value in signed().items()]

    assert verify(BODY, pairs, SECRET, now=NOW)


def test_svix_header_names_are_accepted() -> None:
    headers = {name.replace("webhook-", "svix-"): v for name, v in signed().items()}

    assert verify(BODY, headers, SECRET, now=NOW)


def test_any_one_of_several_signatures_may_match() -> None:
    good = signed()["webhook-signature"]
    headers = signed() | {"webhook-signature": f"v1,Zm9yZ2VkLXNpZ25hdHVyZQ== {good}"}

    assert verify(BODY, headers, SECRET, now=NOW)


def test_signatures_of_another_version_are_ignored() -> None:
    good = signed()["webhook-signature"].removeprefix("v1,")

    assert reason_for(BODY, signed() | {"webhook-signature": f"v1a,{good}"}) == "malformed_header"
    assert reason_for(BODY, signed() | {"webhook-signature": f"v2,{good} v1,AAAA"}) == (
        "bad_signature"
    )


def test_a_signature_altered_only_in_the_unused_bits_of_its_last_base64_digit_is_refused() -> None:
    # 32 bytes encode to 43 digits + "=": the last digit carries 4 bits and 2 ignored ones, so
    # a lenient decoder would read the altered text as the very same signature.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    signature = signed()["webhook-signature"]
    last = alphabet.index(signature[-2])
    twin = alphabet[last ^ 0b01]
    altered = signature[:-2] + twin + "="
    assert base64.b64decode(altered[3:]) == base64.b64decode(signature[3:])

    assert reason_for(BODY, signed() | {"webhook-signature": altered}) == "bad_signature"


def test_during_a_rotation_any_of_the_receivers_secrets_may_match() -> None:
    assert verify(BODY, signed(secret=OTHER_SECRET), [SECRET, OTHER_SECRET], now=NOW)


def test_a_sender_signing_with_old_and_new_secret_verifies_with_either() -> None:
    headers = signed(secret=[OTHER_SECRET, SECRET])

    assert verify(BODY, headers, SECRET, now=NOW)
    assert verify(BODY, headers, OTHER_SECRET, now=NOW)


@pytest.mark.parametrize(
    "secret",
    ["whsec_not*base64!", "whsec_", "", "whsec_a", [], [SECRET, "whsec_%%%"], None, 42],
)
def test_an_unusable_secret_is_refused_as_malformed_secret(secret: Any) -> None:
    assert reason_for(BODY, signed(), secret=secret) == "malformed_secret"


def test_an_unknown_scheme_is_refused() -> None:
    assert reason_for(BODY, signed(), scheme="hmac-md5") == "unknown_scheme"


def test_a_validly_signed_body_that_is_not_json_is_invalid_json() -> None:
    body = b"\xff\xfe not json"

    assert reason_for(body, signed(body)) == "invalid_json"
    assert verify_signature(body, signed(body), SECRET, now=NOW) == body


def test_the_error_has_a_readable_message_beside_its_reason() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify(BODY, {}, SECRET, now=NOW)

    assert caught.value.reason == "missing_header"
    assert str(caught.value).startswith("missing_header: missing header(s): webhook-id")


def test_sign_stamps_the_current_time_and_a_fresh_message_id() -> None:
    first, second = sign(BODY, SECRET), sign(BODY, SECRET)

    assert abs(int(first["webhook-timestamp"]) - time.time()) < 5
    assert first["webhook-id"].startswith("msg_")
    assert first["webhook-id"] != second["webhook-id"]


def test_sign_refuses_an_unusable_secret_with_value_error() -> None:
    with pytest.raises(ValueError, match="malformed_secret"):
        sign(BODY, "whsec_***")


# --- hex schemes -----------------------------------------------------------------------------

SMILE_SECRET = "a little secret"


def hex_hmac(secret: str, body: bytes, digest: str) -> str:
    """Computed here, independently of the kit: HMAC of the raw body keyed with the text."""
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


@pytest.mark.parametrize("header", ["Signature", "x-webhook-signature", "Smile-Signature"])
@pytest.mark.parametrize(("scheme", "digest"), [("hmac-sha256-hex", "sha256"),
                                                ("hmac-sha512-hex", "sha512")])
def test_a_hex_signature_in_the_configured_header_verifies(
    header: str, scheme: str, digest: str
) -> None:
    headers = {header: hex_hmac(SMILE_SECRET, BODY, digest)}

    assert verify(BODY, headers, SMILE_SECRET, scheme, header=header)


def test_the_smile_seed_signature_verifies_and_a_tampered_body_does_not() -> None:
    body = b'{"id":"evt_1","version":1,"type":"order.created","data":{}}'
    headers = {"Smile-Signature": hex_hmac(SMILE_SECRET, body, "sha512")}

    assert verify(body, headers, SMILE_SECRET, "hmac-sha512-hex", header="Smile-Signature")
    with pytest.raises(WebhookVerificationError, match="bad_signature"):
        verify(body + b" ", headers, SMILE_SECRET, "hmac-sha512-hex", header="Smile-Signature")


def test_the_default_hex_header_is_x_webhook_signature() -> None:
    headers = {"X-Webhook-Signature": hex_hmac(SMILE_SECRET, BODY, "sha256")}

    assert verify(BODY, headers, SMILE_SECRET, "hmac-sha256-hex")


def test_uppercase_hex_is_accepted() -> None:
    headers = {"Signature": hex_hmac(SMILE_SECRET, BODY, "sha512").upper()}

    assert verify(BODY, headers, SMILE_SECRET, "hmac-sha512-hex", header="Signature")


def test_a_hex_key_is_the_whole_secret_text_including_a_whsec_prefix() -> None:
    headers = {"x-webhook-signature": hex_hmac(SECRET, BODY, "sha256")}

    assert verify(BODY, headers, SECRET, "hmac-sha256-hex")


@pytest.mark.parametrize("separator", [",", ", ", " "])
def test_a_hex_header_may_carry_several_signatures_during_a_rotation(separator: str) -> None:
    old, new = hex_hmac("old secret!", BODY, "sha256"), hex_hmac(SMILE_SECRET, BODY, "sha256")
    headers = {"Signature": separator.join([old, new])}

    assert verify(BODY, headers, SMILE_SECRET, "hmac-sha256-hex", header="Signature")


def test_a_hex_signature_with_the_wrong_secret_is_refused() -> None:
    headers = {"Signature": hex_hmac("another secret", BODY, "sha512")}

    assert reason_for(BODY, headers, SMILE_SECRET, scheme="hmac-sha512-hex",
                      header="Signature") == "bad_signature"


def test_a_hex_signature_of_the_other_digest_is_refused() -> None:
    headers = {"Signature": hex_hmac(SMILE_SECRET, BODY, "sha256")}

    assert reason_for(BODY, headers, SMILE_SECRET, scheme="hmac-sha512-hex",
                      header="Signature") == "bad_signature"


def test_a_hex_signature_under_another_header_name_is_missing() -> None:
    headers = {"Signature": hex_hmac(SMILE_SECRET, BODY, "sha256")}

    assert reason_for(BODY, headers, SMILE_SECRET, scheme="hmac-sha256-hex") == "missing_header"


def test_sign_and_verify_agree_for_hex_schemes_with_a_custom_header() -> None:
    headers = sign(BODY, SMILE_SECRET, "hmac-sha512-hex", header="Smile-Signature")

    assert headers["Smile-Signature"] == hex_hmac(SMILE_SECRET, BODY, "sha512")
    assert verify(BODY, headers, SMILE_SECRET, "hmac-sha512-hex", header="Smile-Signature")


# --- Webhook ---------------------------------------------------------------------------------


def test_a_webhook_object_verifies_with_its_settings() -> None:
    webhook = Webhook(SMILE_SECRET, "hmac-sha512-hex", header="Smile-Signature")

    assert webhook.verify(BODY, webhook.sign(BODY)) == {"type": "user.created",
                                                        "data": {"id": "usr_1"}}
    with pytest.raises(WebhookVerificationError, match="bad_signature"):
        webhook.verify(BODY + b"\n", webhook.sign(BODY))


def test_a_webhook_object_refuses_a_bad_secret_or_scheme_when_created() -> None:
    with pytest.raises(ValueError, match="malformed_secret"):
        Webhook("whsec_!!")
    with pytest.raises(ValueError, match="unknown_scheme"):
        Webhook(SECRET, "sha1")


def test_a_webhook_object_does_not_show_its_secret() -> None:
    assert SECRET not in repr(Webhook(SECRET))
