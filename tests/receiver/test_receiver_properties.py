"""Properties over arbitrary inputs: round trips, tamper detection, and a closed error contract."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookline.receiver import SCHEMES, WebhookVerificationError, sign, verify, verify_signature

NOW = 1_700_000_000
ID_ALPHABET = string.ascii_letters + string.digits + "_-"

# Per test, not a global profile: other suites in this repository keep their own settings.
quick = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys = st.binary(min_size=1, max_size=64)
standard_secrets = keys.map(lambda key: "whsec_" + base64.b64encode(key).decode())
hex_secrets = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s)
msg_ids = st.text(ID_ALPHABET, min_size=1, max_size=40)
timestamps = st.integers(min_value=NOW - 300, max_value=NOW + 300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def rejected(body: bytes, headers: dict[str, str], secret: str, scheme: str = "standard",
             **kwargs: Any) -> bool:
    try:
        verify_signature(body, headers, secret, scheme, now=NOW, **kwargs)
    except WebhookVerificationError:
        return True
    return False


def replace_byte(data: bytes, index: int, new: int) -> bytes:
    return data[:index] + bytes([new]) + data[index + 1:]


@quick
@given(body=st.binary(max_size=2048), secret=standard_secrets, msg_id=msg_ids, ts=timestamps)
def test_any_body_signed_by_the_standard_scheme_verifies(
    body: bytes, secret: str, msg_id: str, ts: int
) -> None:
    headers = sign(body, secret, msg_id=msg_id, timestamp=ts)

    assert verify_signature(body, headers, secret, now=NOW) == body


@quick
@given(value=json_values, secret=standard_secrets)
def test_any_json_value_comes_back_from_verify_as_it_was_sent(value: Any, secret: str) -> None:
    body = json.dumps(value).encode()

    assert verify(body, sign(body, secret, timestamp=NOW), secret, now=NOW) == value


@quick
@given(body=st.binary(max_size=2048), secret=hex_secrets, scheme=st.sampled_from(SCHEMES[1:]))
def test_any_body_signed_by_a_hex_scheme_verifies(body: bytes, secret: str, scheme: str) -> None:
    headers = sign(body, secret, scheme, header="Signature")

    assert verify_signature(body, headers, secret, scheme, header="Signature") == body


@quick
@given(body=st.binary(min_size=1, max_size=512), secret=standard_secrets, data=st.data())
def test_any_single_byte_change_in_the_body_is_rejected(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    headers = sign(body, secret, timestamp=NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))

    assert rejected(replace_byte(body, index, new), headers, secret)


@quick
@given(body=st.binary(max_size=256), secret=standard_secrets, msg_id=msg_ids, data=st.data())
def test_any_single_character_change_in_the_message_id_is_rejected(
    body: bytes, secret: str, msg_id: str, data: st.DataObject
) -> None:
    headers = sign(body, secret, msg_id=msg_id, timestamp=NOW)
    index = data.draw(st.integers(0, len(msg_id) - 1))
    new = data.draw(st.sampled_from(ID_ALPHABET).filter(lambda c: c != msg_id[index]))
    headers["webhook-id"] = msg_id[:index] + new + msg_id[index + 1:]

    assert rejected(body, headers, secret)


@quick
@given(body=st.binary(max_size=256), secret=standard_secrets, ts=timestamps, data=st.data())
def test_any_single_byte_change_in_the_timestamp_is_rejected(
    body: bytes, secret: str, ts: int, data: st.DataObject
) -> None:
    headers = sign(body, secret, timestamp=ts)
    text = headers["webhook-timestamp"]
    index = data.draw(st.integers(0, len(text) - 1))
    new = data.draw(st.characters(min_codepoint=33, max_codepoint=126)
                    .filter(lambda c: c != text[index]))
    headers["webhook-timestamp"] = text[:index] + new + text[index + 1:]

    assert rejected(body, headers, secret, tolerance=10**12)


@quick
@given(body=st.binary(max_size=256), secret=standard_secrets, data=st.data())
def test_any_single_byte_change_in_the_standard_signature_is_rejected(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    headers = sign(body, secret, timestamp=NOW)
    signature = headers["webhook-signature"].encode()
    index = data.draw(st.integers(0, len(signature) - 1))
    new = data.draw(st.integers(33, 126).filter(lambda b: b != signature[index]))
    headers["webhook-signature"] = replace_byte(signature, index, new).decode()

    assert rejected(body, headers, secret)


@quick
@given(body=st.binary(max_size=256), secret=hex_secrets, scheme=st.sampled_from(SCHEMES[1:]),
       data=st.data())
def test_any_change_in_a_hex_signature_other_than_letter_case_is_rejected(
    body: bytes, secret: str, scheme: str, data: st.DataObject
) -> None:
    headers = sign(body, secret, scheme)
    signature = headers["x-webhook-signature"]
    index = data.draw(st.integers(0, len(signature) - 1))
    new = data.draw(st.characters(min_codepoint=33, max_codepoint=126)
                    .filter(lambda c: c.lower() != signature[index].lower() and c != ","))
    headers["x-webhook-signature"] = signature[:index] + new + signature[index + 1:]

    assert rejected(body, headers, secret, scheme)


header_text = st.one_of(st.text(max_size=60), st.binary(max_size=60), st.integers(), st.none())
header_names = st.one_of(
    st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id",
                     "svix-timestamp", "svix-signature", "x-webhook-signature", "Signature"]),
    header_text,
)
plausible_signatures = st.builds(
    lambda version, sig: f"{version},{sig}",
    st.sampled_from(["v1", "v1a", "v2", ""]),
    st.text(string.ascii_letters + string.digits + "+/= ,", max_size=90),
)
any_headers = st.one_of(
    st.dictionaries(header_names, st.one_of(header_text, plausible_signatures), max_size=6),
    st.lists(st.tuples(header_names, header_text), max_size=6),
    st.lists(st.one_of(header_text, st.tuples(header_text)), max_size=4),
    st.fixed_dictionaries({
        "webhook-id": st.text(max_size=20),
        "webhook-timestamp": st.one_of(st.just(str(NOW)), st.text(max_size=15)),
        "webhook-signature": plausible_signatures,
    }),
    header_text,
)
any_secrets = st.one_of(
    st.text(max_size=60), st.binary(max_size=40), standard_secrets, st.none(), st.integers(),
    st.lists(st.one_of(st.text(max_size=30), standard_secrets, st.none()), max_size=3),
)
any_bodies = st.one_of(st.binary(max_size=300), st.text(max_size=100), st.none(), st.integers(),
                       st.just(b"[" * 100_000))


@settings(quick, max_examples=400)
@given(body=any_bodies, headers=any_headers, secret=any_secrets,
       scheme=st.one_of(st.sampled_from(SCHEMES), st.text(max_size=20), st.none()),
       header=st.one_of(st.none(), header_names), tolerance=st.integers(-10, 10**6))
def test_no_input_makes_verify_raise_anything_but_a_verification_error(
    body: Any, headers: Any, secret: Any, scheme: Any, header: Any, tolerance: int
) -> None:
    try:
        verify(body, headers, secret, scheme, header=header, tolerance=tolerance, now=NOW)
    except WebhookVerificationError as error:
        assert error.reason in {
            "missing_header", "malformed_header", "bad_signature", "malformed_secret",
            "timestamp_out_of_tolerance", "malformed_body", "invalid_json", "unknown_scheme",
        }


def test_deeply_nested_json_that_is_validly_signed_is_invalid_json_not_a_crash() -> None:
    nested = b"[" * 100_000
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()

    try:
        verify(nested, sign(nested, secret, timestamp=NOW), secret, now=NOW)
    except WebhookVerificationError as error:
        assert error.reason == "invalid_json"
    else:
        raise AssertionError("a hundred thousand open brackets parsed as JSON")
