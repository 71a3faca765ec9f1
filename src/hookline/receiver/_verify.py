"""Checking that a request was signed by a holder of the secret, then reading its JSON.

Every failure, whatever the input, surfaces as `WebhookVerificationError`: a receiver should be
able to map one exception to a 401 and never leak a 500 to a forger probing it.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Sequence
from typing import Any

from ._errors import (
    BAD_SIGNATURE,
    INVALID_JSON,
    MALFORMED_BODY,
    MALFORMED_HEADER,
    MISSING_HEADER,
    TIMESTAMP_OUT_OF_TOLERANCE,
    WebhookVerificationError,
)
from ._headers import HeaderValues, header_value, normalize_headers
from ._signing import (
    DEFAULT_HEX_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    STANDARD,
    STANDARD_VERSION,
    TIMESTAMP_HEADER,
    Secrets,
    check_scheme,
    hex_signature,
    signing_keys,
    standard_signature,
)

DEFAULT_TOLERANCE = 300
"""Seconds a standard signature's timestamp may differ from our clock, either way."""

ID_HEADERS = (ID_HEADER, "svix-id")
TIMESTAMP_HEADERS = (TIMESTAMP_HEADER, "svix-timestamp")
SIGNATURE_HEADERS = (SIGNATURE_HEADER, "svix-signature")

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SEPARATORS = re.compile(r"[\s,]+")


def verify(
    body: bytes,
    headers: Any,
    secret: Secrets,
    scheme: str = STANDARD,
    *,
    header: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Any:
    """The parsed JSON body of a request whose signature checks out; raises otherwise.

    `secret` may be a list during a rotation (any may match). `header` names the signature header
    of the hex schemes (default `x-webhook-signature`); `now` overrides the clock for tests.
    """
    raw = verify_signature(
        body, headers, secret, scheme, header=header, tolerance=tolerance, now=now
    )
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise WebhookVerificationError(INVALID_JSON) from None


def verify_signature(
    body: bytes,
    headers: Any,
    secret: Secrets,
    scheme: str = STANDARD,
    *,
    header: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bytes:
    """Like `verify`, for bodies that need not be JSON: returns the body as bytes."""
    try:
        keys = signing_keys(secret, check_scheme(scheme))
        raw = _as_bytes(body)
        values = normalize_headers(headers)
        if scheme == STANDARD:
            _check_standard(raw, values, keys, tolerance, now)
        else:
            _check_hex(raw, values, keys, scheme, header or DEFAULT_HEX_HEADER)
        return raw
    except WebhookVerificationError:
        raise
    except Exception as error:  # a contract, not a convenience: see the module docstring
        raise WebhookVerificationError(MALFORMED_HEADER, f"unreadable request: {error!r}") from None


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    raise WebhookVerificationError(MALFORMED_BODY, f"the body must be bytes, not {type(body)}")


def _check_standard(
    body: bytes, headers: HeaderValues, keys: list[bytes], tolerance: float, now: float | None
) -> None:
    found = {
        ID_HEADER: header_value(headers, *ID_HEADERS),
        TIMESTAMP_HEADER: header_value(headers, *TIMESTAMP_HEADERS),
        SIGNATURE_HEADER: _joined(headers, SIGNATURE_HEADERS, " "),
    }
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise WebhookVerificationError(MISSING_HEADER, f"missing header(s): {', '.join(missing)}")
    msg_id, timestamp, signatures = (str(value) for value in found.values())
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError(MALFORMED_HEADER, "webhook-timestamp is not unix seconds")
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > tolerance:
        raise WebhookVerificationError(
            TIMESTAMP_OUT_OF_TOLERANCE,
            f"webhook-timestamp {timestamp} is more than {tolerance}s from now ({int(clock)})",
        )
    offered = [
        candidate.encode("utf-8", "surrogatepass")
        for version, _, candidate in (entry.partition(",") for entry in signatures.split())
        if version == STANDARD_VERSION and candidate
    ]
    if not offered:
        raise WebhookVerificationError(MALFORMED_HEADER, "webhook-signature has no v1 signature")
    # Compare the canonical base64 text, not decoded bytes: base64 decoders ignore the unused
    # bits of the last character, which would let an altered signature still match.
    for key in keys:
        expected = standard_signature(key, msg_id, timestamp, body).encode("ascii")
        if _any_matches(expected, offered):
            return
    raise WebhookVerificationError(BAD_SIGNATURE)


def _check_hex(
    body: bytes, headers: HeaderValues, keys: list[bytes], scheme: str, name: str
) -> None:
    value = _joined(headers, (name.strip().lower(),), ",")
    if not value:
        raise WebhookVerificationError(MISSING_HEADER, f"missing header: {name}")
    offered = [
        token.lower().encode("ascii")
        for token in _HEX_SEPARATORS.split(value)
        if token and token.isascii()
    ]
    if not offered:
        raise WebhookVerificationError(MALFORMED_HEADER, f"{name} has no signature")
    for key in keys:
        expected = hex_signature(key, scheme, body).encode("ascii")
        if _any_matches(expected, offered):
            return
    raise WebhookVerificationError(BAD_SIGNATURE)


def _any_matches(expected: bytes, offered: Sequence[bytes]) -> bool:
    """Constant-time per candidate, and every candidate is compared (no early exit leak)."""
    matched = False
    for candidate in offered:
        matched |= hmac.compare_digest(expected, candidate)
    return matched


def _joined(headers: HeaderValues, names: tuple[str, ...], separator: str) -> str | None:
    """All values of the first present header, joined: proxies may split a list header."""
    for name in names:
        values = headers.get(name)
        if values:
            return separator.join(values)
    return None
