"""Who may act: application-scoped API tokens (shown once when created, stored only as SHA-256
hashes), portal links and the portal sessions they open.

A signed token (a portal link, the portal's session cookie) is `base64url(JSON payload) "."
base64url(HMAC-SHA256(key, first part))`. It carries no secret, only who it is for and until
when; whoever holds the key can mint one. A portal link's token also names its link, which the
server records so that it opens one session only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import Unauthorized

APP_TOKEN_PREFIX = "hl_app_"
MAX_TOKEN_NAME = 256
PORTAL_KEY_LABEL = "portal"
# How long a portal session lasts: a working day; a partner comes back through a fresh link.
SESSION_SECONDS = 8 * 3600
_INVALID = "the portal link is not valid"
_EXPIRED = "the portal link has expired; ask for a new one"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_app_token() -> str:
    """A fresh bearer token. URL-safe base64 has no `.`, which Svix SDKs read as a region."""
    return APP_TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class ApiToken:
    """A token that acts for one application, optionally only reading."""

    id: str
    app_id: str
    name: str
    read_only: bool
    created_at: float
    token_hash: str = ""


@dataclass(frozen=True)
class PortalLink:
    """A link into one application's portal. It opens one session, then it is used up."""

    id: str
    app_id: str
    expires_at: float
    created_at: float
    read_only: bool = False
    # The caller's own session id (Svix's `sessionId`), to expire only its links and sessions.
    session_tag: str | None = None
    used_at: float | None = None
    # Svix's featureFlags: the flagged event types this link's session may see.
    feature_flags: list[str] | None = None


@dataclass(frozen=True)
class PortalGrant:
    """What a live portal session may see, as the server records it: one application (a
    partner, through a link) or every one (an administrator, while the admin token it signed
    in with is still the admin token)."""

    id: str  # SHA-256 of the cookie's session id
    app_id: str | None
    expires_at: float
    created_at: float
    admin_token_sha256: str | None = None
    link_id: str | None = None
    read_only: bool = False
    session_tag: str | None = None
    feature_flags: list[str] | None = None

    @property
    def admin(self) -> bool:
        return self.admin_token_sha256 is not None


# -- signed tokens: portal links and the portal session cookie --------------------------
def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign_payload(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, body)}"


def verify_payload(key: bytes, token: str, now: float, *,
                   expired_ok: bool = False) -> dict[str, Any]:
    """The payload of a token signed with `key` whose `exp` is still ahead (or, with
    `expired_ok`, whenever it expired), else Unauthorized."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise Unauthorized(_INVALID)
    try:
        payload = json.loads(_b64decode(body))
    except (binascii.Error, ValueError):
        raise Unauthorized(_INVALID) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
        raise Unauthorized(_INVALID)
    if payload["exp"] <= now and not expired_ok:
        raise Unauthorized(_EXPIRED)
    return payload


@dataclass(frozen=True)
class LinkToken:
    """What a genuine portal link token says: the application, and the link it belongs to
    (None only in tokens signed without one, which no link accepts)."""

    app_id: str
    link_id: str | None


def sign_portal_token(key: bytes, app_id: str, ttl_seconds: int, now: float,
                      link_id: str | None = None) -> str:
    """A portal link token for one application, valid for `ttl_seconds` from `now`."""
    payload: dict[str, Any] = {"app": app_id, "exp": int(now + ttl_seconds)}
    if link_id is not None:
        payload["lnk"] = link_id
    return sign_payload(key, payload)


def read_portal_token(key: bytes, token: str, now: float, *,
                      expired_ok: bool = False) -> LinkToken:
    """What a portal link token was signed for; Unauthorized when it is forged, malformed or
    (unless `expired_ok`) expired."""
    payload = verify_payload(key, token, now, expired_ok=expired_ok)
    app_id, link_id = payload.get("app"), payload.get("lnk")
    if not isinstance(app_id, str) or not app_id:
        raise Unauthorized(_INVALID)
    return LinkToken(app_id, link_id if isinstance(link_id, str) and link_id else None)


def verify_portal_token(key: bytes, token: str, now: float) -> str:
    """The application id a portal link token was signed for; Unauthorized when it is forged,
    malformed or expired."""
    return read_portal_token(key, token, now).app_id
