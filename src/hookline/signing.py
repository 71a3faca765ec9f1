"""Request signatures as Hookline sends them: a thin layer over the receiver kit's schemes.

The schemes, secret decoding and signature computation live once, in `receiver/_signing.py`
(the kit imports nothing from the server; the server may import the kit), so what the server
sends and what the kit's `sign` and `verify` expect cannot drift. This module adds what only the
server needs: new secrets, the rules a stored secret must meet, and errors in the API's terms.
"""

from __future__ import annotations

import base64
import functools
import secrets as _secrets

from .errors import InvalidInput
from .receiver._errors import UNKNOWN_SCHEME, WebhookVerificationError
from .receiver._signing import (
    DEFAULT_HEX_HEADER,
    HMAC_SHA256_HEX,
    HMAC_SHA512_HEX,
    SCHEMES,
    SECRET_PREFIX,
    STANDARD,
    STANDARD_HEADERS,
    check_scheme,
    signed_headers,
    signing_keys,
    standard_key,
)

__all__ = [
    "DEFAULT_HEX_HEADER",
    "HMAC_SHA256_HEX",
    "HMAC_SHA512_HEX",
    "MAX_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "SCHEMES",
    "SECRET_PREFIX",
    "STANDARD",
    "STANDARD_HEADERS",
    "generate_secret",
    "signature_header_names",
    "signature_headers",
    "validate_secret",
]

# Endpoints' secrets whose decoded keys stay in memory (as the endpoints themselves do).
KEYS_CACHED = 4096
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# What `signature_headers` may call the Standard Webhooks headers (settings' style names).
WEBHOOK_NAMES, SVIX_NAMES = "webhook", "svix"
WEBHOOK_PREFIX, SVIX_PREFIX = "webhook-", "svix-"


def generate_secret(size: int = 32) -> str:
    """A new `whsec_` secret: base64 of `size` random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(size)).decode()


def validate_secret(secret: str, scheme: str) -> None:
    """Refuse a secret that cannot sign with `scheme`.

    Standard Webhooks keys are `whsec_` + base64 of 24-64 bytes. Hex schemes key the HMAC with
    the secret's UTF-8 bytes, so any reasonably long phrase works (Smile lets partners choose).
    """
    if secret.startswith(SECRET_PREFIX) or scheme == STANDARD:
        try:
            key = standard_key(secret)
        except WebhookVerificationError:
            raise InvalidInput("secret is not valid base64 after whsec_", field="secret") from None
        if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
            raise InvalidInput(
                f"secret must be whsec_ followed by base64 of {MIN_SECRET_BYTES}-"
                f"{MAX_SECRET_BYTES} bytes",
                field="secret",
            )
    elif not 8 <= len(secret) <= 256:
        raise InvalidInput("secret must be 8 to 256 characters", field="secret")


def signature_headers(
    scheme: str,
    secrets: list[str],
    msg_id: str,
    timestamp: int,
    body: bytes,
    header: str | None = None,
    names: str = WEBHOOK_NAMES,
) -> dict[str, str]:
    """The headers that sign `body` with `secrets`, newest first (several during rotation);
    `names`: the Standard Webhooks headers as `webhook-*`, as Svix's `svix-*`, or `both`."""
    try:
        keys = _keys(scheme, tuple(secrets))
    except WebhookVerificationError as error:
        if error.reason == UNKNOWN_SCHEME:
            raise InvalidInput(f"unknown signature scheme {scheme!r}",
                               field="signatureScheme") from None
        raise InvalidInput("secret cannot be used as a signing key", field="secret") from None
    signed = signed_headers(scheme, keys, msg_id, timestamp, body, header)
    if names == WEBHOOK_NAMES:
        return signed
    as_svix = {_svix_name(name): value for name, value in signed.items()}
    return as_svix if names == SVIX_NAMES else {**signed, **as_svix}


@functools.lru_cache(maxsize=KEYS_CACHED)
def _keys(scheme: str, secrets: tuple[str, ...]) -> tuple[bytes, ...]:
    """The HMAC keys of an endpoint's secrets: decoded once, not for every request (a worker
    signs with the same few secrets thousands of times a second). A refused secret is not
    remembered: its error is raised again on every call."""
    return tuple(signing_keys(secrets, check_scheme(scheme)))


def _svix_name(name: str) -> str:
    return SVIX_PREFIX + name.removeprefix(WEBHOOK_PREFIX) if name in STANDARD_HEADERS else name


def signature_header_names(scheme: str, header: str | None) -> set[str]:
    """Header names a scheme writes; custom headers may not override them."""
    names = set(STANDARD_HEADERS) | {_svix_name(name) for name in STANDARD_HEADERS}
    if scheme != STANDARD:
        names.add((header or DEFAULT_HEX_HEADER).lower())
    return names
