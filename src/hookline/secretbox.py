"""Encryption at rest for endpoint secrets and custom header values (Fernet: AES-CBC + HMAC)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import ConfigError

log = logging.getLogger(__name__)
_PREFIX = "enc1:"
KEY_FILE = "hookline.key"
# Opened secrets kept in memory, by their sealed text: every claim loads its endpoints again, and
# decrypting each one's secret and headers every time was a measurable share of the worker's
# CPU. Sealing uses a fresh IV, so a changed secret has a new sealed text: no invalidation needed.
OPENED_CACHE_SIZE = 4096
OPENED_CACHE_MAX_CHARS = 2048  # larger texts (stored answers) are opened each time


class SecretBox:
    """Seals strings before they reach the database and opens them on the way out."""

    def __init__(self, key: str) -> None:
        # Any operator-chosen string works: it is stretched into a Fernet key.
        digest = hashlib.sha256(key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._root = hashlib.sha256(b"hookline-derive:" + key.encode()).digest()
        self._opened: dict[str, str] = {}

    def derive(self, label: str) -> bytes:
        """A 32-byte key for one purpose (e.g. signing portal links), derived from the key."""
        import hmac

        return hmac.new(self._root, label.encode(), hashlib.sha256).digest()

    def seal(self, plain: str) -> str:
        return _PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(_PREFIX):
            return sealed
        opened = self._opened.get(sealed)
        if opened is None:
            opened = self._decrypt(sealed)
            if len(sealed) <= OPENED_CACHE_MAX_CHARS:
                if len(self._opened) >= OPENED_CACHE_SIZE:
                    self._opened.pop(next(iter(self._opened)))  # the oldest entry
                self._opened[sealed] = opened
        return opened

    def _decrypt(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed[len(_PREFIX):].encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "a stored secret cannot be decrypted: HOOKLINE_SECRET_KEY is not the key it was "
                "sealed with") from None

    @classmethod
    def load(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        """Use HOOKLINE_SECRET_KEY, or the key file in the data directory, creating it once."""
        if secret_key:
            return cls(secret_key)
        path = data_dir / KEY_FILE
        if path.exists():
            return cls(path.read_text().strip())
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner only, like the key
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        log.warning("HOOKLINE_SECRET_KEY is not set: generated a key in %s; back it up, "
                    "stored secrets cannot be read without it", path)
        return cls(key)
