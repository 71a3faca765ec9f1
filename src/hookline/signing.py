"""Request signatures: Standard Webhooks v1 and hex HMACs of the raw body.

Every scheme signs exactly the bytes that are sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets

from .errors import InvalidInput

STANDARD = "standard"
HMAC_SHA256_HEX = "hmac-sha256-hex"
HMAC_SHA512_HEX = "hmac-sha512-hex"
SCHEMES = (STANDARD, HMAC_SHA256_HEX, HMAC_SHA512_HEX)
DEFAULT_HEX_HEADER = "x-webhook-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
_HASHES = {HMAC_SHA256_HEX: hashlib.sha256, HMAC_SHA512_HEX: hashlib.sha512}


def generate_secret(size: int = 32) -> str:
    """A new `whsec_` secret: base64 of `size` random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(size)).decode()


def validate_secret(secret: str, scheme: str) -> None:
    """Refuse a secret that cannot sign with `scheme`.

    Standard Webhooks keys are `whsec_` + base64 of 24-64 bytes. Hex schemes key the HMAC with
    the secret's UTF-8 bytes, so any reasonably long phrase works (Smile lets partners choose).
    """
    if secret.startswith(SECRET_PREFIX) or scheme == STANDARD:
        key = _standard_key(secret)
        if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
            raise InvalidInput(
                f"secret must be whsec_ followed by base64 of {MIN_SECRET_BYTES}-"
                f"{MAX_SECRET_BYTES} bytes",
                field="secret",
            )
    elif not 8 <= len(secret) <= 256:
        raise InvalidInput("secret must be 8 to 256 characters", field="secret")


def _standard_key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("secret is not valid base64 after whsec_", field="secret") from None


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def hex_signature(secret: str, scheme: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, _HASHES[scheme]).hexdigest()


def signature_headers(
    scheme: str,
    secrets: list[str],
    msg_id: str,
    timestamp: int,
    body: bytes,
    header: str | None = None,
) -> dict[str, str]:
    """The headers that sign `body` with every secret in `secrets` (several during rotation)."""
    if scheme == STANDARD:
        signatures = " ".join(standard_signature(s, msg_id, timestamp, body) for s in secrets)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        }
    if scheme in _HASHES:
        # Seed receivers compare the whole header to one digest, so hex schemes carry only the
        # current secret's signature; two would break every receiver during a rotation.
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            header or DEFAULT_HEX_HEADER: hex_signature(secrets[0], scheme, body),
        }
    raise InvalidInput(f"unknown signature scheme {scheme!r}", field="signatureScheme")


def signature_header_names(scheme: str, header: str | None) -> set[str]:
    """Header names a scheme writes; custom headers may not override them."""
    names = set(STANDARD_HEADERS)
    if scheme != STANDARD:
        names.add((header or DEFAULT_HEX_HEADER).lower())
    return names
