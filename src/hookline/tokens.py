"""Who may act: application-scoped API tokens (shown once when created, stored only as SHA-256
hashes), portal links and the portal sessions they open."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

APP_TOKEN_PREFIX = "hl_app_"
MAX_TOKEN_NAME = 256


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

    @property
    def admin(self) -> bool:
        return self.admin_token_sha256 is not None
