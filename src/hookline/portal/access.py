"""Signed, expiring tokens: portal links and the portal's session cookie.

A token is `base64url(JSON payload) "." base64url(HMAC-SHA256(key, first part))`. It carries no
secret, only who it is for and until when; whoever holds the key can mint one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from ..errors import Unauthorized

PORTAL_KEY_LABEL = "portal"
_INVALID = "the portal link is not valid"
_EXPIRED = "the portal link has expired; ask for a new one"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign_payload(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, body)}"


def verify_payload(key: bytes, token: str, now: float) -> dict[str, Any]:
    """The payload of a token signed with `key` whose `exp` is still ahead, else Unauthorized."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise Unauthorized(_INVALID)
    try:
        payload = json.loads(_b64decode(body))
    except (binascii.Error, ValueError):
        raise Unauthorized(_INVALID) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
        raise Unauthorized(_INVALID)
    if payload["exp"] <= now:
        raise Unauthorized(_EXPIRED)
    return payload


def sign_portal_token(key: bytes, app_id: str, ttl_seconds: int, now: float) -> str:
    """A portal link token for one application, valid for `ttl_seconds` from `now`."""
    return sign_payload(key, {"app": app_id, "exp": int(now + ttl_seconds)})


def verify_portal_token(key: bytes, token: str, now: float) -> str:
    """The application id a portal link token was signed for; Unauthorized when it is forged,
    malformed or expired."""
    app_id = verify_payload(key, token, now).get("app")
    if not isinstance(app_id, str) or not app_id:
        raise Unauthorized(_INVALID)
    return app_id
