"""Hookline's use cases. The API, the portal and the CLI call these; none of them writes SQL.

One `Service`, written by subject: `access.py`, `sessions.py`, `catalogue.py`, `endpoints.py`,
`messages.py`, `idempotency.py`, over the shared state and checks in `core.py`.
"""

from __future__ import annotations

from .access import AccessUseCases
from .catalogue import CatalogueUseCases
from .core import (
    ADMIN_TOKEN_KEY,
    ALL_EVENTS,
    DEFAULT_ROTATION_GRACE,
    MAX_LIMIT,
    clamp_limit,
    endpoint_wants,
)
from .endpoints import EndpointUseCases
from .idempotency import IdempotencyUseCases
from .messages import MessageUseCases


class Service(AccessUseCases, CatalogueUseCases, EndpointUseCases, MessageUseCases,
              IdempotencyUseCases):
    """Every use case of Hookline, over one store."""


__all__ = ["ADMIN_TOKEN_KEY", "ALL_EVENTS", "DEFAULT_ROTATION_GRACE", "MAX_LIMIT", "Service",
           "clamp_limit", "endpoint_wants"]
