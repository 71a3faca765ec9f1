"""Hookline's receiver kit: verify signed webhooks and handle each event once.

Importable with the standard library alone and independent of the Hookline server. Framework
helpers live in `hookline.receiver.fastapi`, `.flask` and `.django`; a local listener for
development in `hookline.receiver.listen`.
"""

from ._dedupe import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    ClaimResult,
    IdempotencyStore,
    IdempotentConsumer,
    OnceOutcome,
    OnceStatus,
)
from ._endpoint import default_event_id
from ._errors import WebhookVerificationError
from ._signing import (
    DEFAULT_HEX_HEADER,
    HMAC_SHA256_HEX,
    HMAC_SHA512_HEX,
    SCHEMES,
    STANDARD,
    sign,
)
from ._store_memory import MemoryStore
from ._store_redis import RedisStore
from ._store_sqlite import SqliteStore
from ._verify import DEFAULT_TOLERANCE, verify, verify_signature
from ._webhook import Webhook

__all__ = [
    "DEFAULT_HEX_HEADER",
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "DEFAULT_TOLERANCE",
    "HMAC_SHA256_HEX",
    "HMAC_SHA512_HEX",
    "SCHEMES",
    "STANDARD",
    "ClaimResult",
    "IdempotencyStore",
    "IdempotentConsumer",
    "MemoryStore",
    "OnceOutcome",
    "OnceStatus",
    "RedisStore",
    "SqliteStore",
    "Webhook",
    "WebhookVerificationError",
    "default_event_id",
    "sign",
    "verify",
    "verify_signature",
]
