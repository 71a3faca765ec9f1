"""How Hookline signs a request, per scheme: keys, expected signatures, and `sign`.

The one definition of each scheme. The server signs what it sends with `signed_headers` (through
`hookline.signing`), the kit's `sign` calls the same function and `verify` recomputes with the
same signature functions, so what Hookline sends, what `sign` produces and what `verify` accepts
cannot drift apart. Standard library only: partners install the kit without the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import MALFORMED_SECRET, UNKNOWN_SCHEME, WebhookVerificationError

STANDARD = "standard"
HMAC_SHA256_HEX = "hmac-sha256-hex"
HMAC_SHA512_HEX = "hmac-sha512-hex"
SCHEMES = (STANDARD, HMAC_SHA256_HEX, HMAC_SHA512_HEX)

DEFAULT_HEX_HEADER = "x-webhook-signature"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
STANDARD_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
SECRET_PREFIX = "whsec_"
STANDARD_VERSION = "v1"

HEX_DIGESTS: dict[str, Callable[..., Any]] = {
    HMAC_SHA256_HEX: hashlib.sha256,
    HMAC_SHA512_HEX: hashlib.sha512,
}

Secrets = str | bytes | Sequence[str | bytes]


def check_scheme(scheme: Any) -> str:
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise WebhookVerificationError(
            UNKNOWN_SCHEME, f"unknown signature scheme {scheme!r}; expected one of {SCHEMES}"
        )
    return scheme


def signing_keys(secret: Any, scheme: str) -> list[bytes]:
    """The HMAC keys for every secret given (several while a secret is being rotated, newest
    first when signing).

    Raises `malformed_secret` if any one of them is unusable: a rotation list with a broken
    entry is a configuration mistake worth failing loudly on.
    """
    secrets = [secret] if isinstance(secret, str | bytes) else secret
    try:
        candidates = list(secrets)
    except TypeError:
        candidates = []
    if not candidates:
        raise WebhookVerificationError(MALFORMED_SECRET, "no secret given")
    return [_key(item, scheme) for item in candidates]


def _key(secret: Any, scheme: str) -> bytes:
    if isinstance(secret, bytes) and secret:
        return secret
    if not isinstance(secret, str) or not secret:
        raise WebhookVerificationError(MALFORMED_SECRET, "a secret must be a non-empty string")
    if scheme == STANDARD:
        # A configured secret often carries a stray newline from a file or .env: whitespace is
        # never part of base64, so dropping it around the text cannot change the key.
        return standard_key(secret.strip())
    # Hex schemes key the HMAC with the secret text itself, prefix included.
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookVerificationError(MALFORMED_SECRET, "the secret is not valid text") from None


def standard_key(secret: str) -> bytes:
    """The key in `whsec_` + base64 (the prefix is optional).

    Padding may be omitted: the reference `standardwebhooks` library pads before decoding, so an
    unpadded secret means the same key there, here, and on the server (which accepts it too).
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(
            MALFORMED_SECRET, "the secret is not base64 (after the whsec_ prefix)"
        ) from None
    if not key:
        raise WebhookVerificationError(MALFORMED_SECRET, "the secret decodes to an empty key")
    return key


def standard_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The base64 part of `v1,<signature>`: HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass") + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def hex_signature(key: bytes, scheme: str, body: bytes) -> str:
    return hmac.new(key, body, HEX_DIGESTS[scheme]).hexdigest()


def signed_headers(
    scheme: str,
    keys: Sequence[bytes],
    msg_id: str,
    timestamp: int,
    body: bytes,
    header: str | None = None,
) -> dict[str, str]:
    """The headers that sign `body` with `keys`, newest first: exactly what Hookline sends.

    `standard` carries one `v1,` signature per key, so receivers on either secret verify during
    a rotation. Hex schemes carry only the newest key's digest: many hex receivers compare the
    whole header to one digest, and a second value would break every one of them mid-rotation.
    """
    headers = {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp)}
    if scheme == STANDARD:
        signatures = (standard_signature(key, msg_id, str(timestamp), body) for key in keys)
        headers[SIGNATURE_HEADER] = " ".join(f"{STANDARD_VERSION},{s}" for s in signatures)
    else:
        headers[header or DEFAULT_HEX_HEADER] = hex_signature(keys[0], scheme, body)
    return headers


def sign(
    body: bytes,
    secret: Secrets,
    scheme: str = STANDARD,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    header: str | None = None,
) -> dict[str, str]:
    """Headers that make `body` verify under `secret`, exactly as Hookline would send them.

    Several secrets (newest first) mean a rotation: `standard` signs with every one, hex schemes
    with the newest only, as the server does. Raises `ValueError` for an unknown scheme or
    unusable secret.
    """
    try:
        keys = signing_keys(secret, check_scheme(scheme))
    except WebhookVerificationError as error:
        raise ValueError(str(error)) from None
    return signed_headers(
        scheme,
        keys,
        msg_id if msg_id is not None else "msg_" + _random.token_hex(12),
        timestamp if timestamp is not None else int(time.time()),
        body,
        header,
    )
