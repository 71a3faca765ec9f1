"""Application-scoped API tokens: shown once when created, stored only as SHA-256 hashes."""

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
