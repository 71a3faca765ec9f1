"""The `Store`: every query Hookline makes, written once over a small async driver.

SQLite and PostgreSQL share this SQL (`$n` placeholders; the SQLite driver rewrites them to
`?n`). What differs between them, such as how due deliveries are claimed, is overridden in
`sqlite.py` and `postgres.py`. Times are epoch seconds (float); JSON is stored as text.
The queries live by subject in `resources.py`, `messages.py`, `deliveries.py`,
`attempts.py`, `access.py` and `idempotency.py`; `core.py` holds what they share.
"""

from __future__ import annotations

from .access import AccessQueries
from .attempts import AttemptQueries
from .core import (
    Claim,
    Connection,
    Database,
    DeliveryResult,
    Page,
    PublishResult,
    Row,
    Subscription,
    new_lease_id,
)
from .deliveries import DeliveryQueries
from .idempotency import IdempotencyQueries, IdempotentRequest, StoredAnswer
from .messages import MessageQueries
from .resources import ResourceQueries


class Store(ResourceQueries, MessageQueries, DeliveryQueries, AttemptQueries, AccessQueries,
            IdempotencyQueries):
    """Hookline's persistence. Subclasses supply the driver and the dialect's differences."""


__all__ = ["Claim", "Connection", "Database", "DeliveryResult", "IdempotentRequest", "Page",
           "PublishResult", "Row", "Store", "StoredAnswer", "Subscription", "new_lease_id"]
