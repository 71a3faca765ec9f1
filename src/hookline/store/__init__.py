"""Storage: one `Store` interface (base.py), a SQLite and a PostgreSQL implementation.

A statement goes in `queries.py`, a difference between the databases in `dialect.py`, and the
method that runs it in the subject module (`resources.py`, `messages.py`, `deliveries.py`,
`attempts.py`, `access.py`, `idempotency.py`). `open_store` picks the database from the URL.
"""

from __future__ import annotations

from ..config import Settings
from ..secretbox import SecretBox
from .base import Store


async def open_store(settings: Settings, box: SecretBox | None = None) -> Store:
    """Connect to the database named by `settings.database_url`."""
    box = box or SecretBox.load(settings.secret_key, settings.data_dir)
    url = settings.database_url
    if url.startswith(("postgres://", "postgresql://")):
        from .postgres import PostgresStore

        return await PostgresStore.connect(url, box)
    if url.startswith("sqlite:"):
        from .sqlite import SqliteStore

        return await SqliteStore.connect(url, box)
    from ..errors import ConfigError

    raise ConfigError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://...")


__all__ = ["Store", "open_store"]
