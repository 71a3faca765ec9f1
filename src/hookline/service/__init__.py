"""Hookline's use cases. The API, the portal and the CLI call these; none of them writes SQL.

One `Service`, written by subject: `access.py`, `sessions.py`, `catalogue.py`, `endpoints.py`,
`messages.py`, `idempotency.py`, `history.py`, `tasks.py` (background tasks), over the shared
state and checks in `core.py`; operational webhooks (`operational.py`) publish through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config import Settings
from ..delivery.egress import EgressPolicy
from ..delivery.transport import Transport
from ..secretbox import SecretBox
from ..store.base import Page, Store
from ..tracing import Tracing
from .access import AccessUseCases
from .catalogue import CatalogueUseCases
from .config_cache import ConfigCache
from .core import (
    ADMIN_TOKEN_KEY,
    ALL_EVENTS,
    DEFAULT_ROTATION_GRACE,
    MAX_LIMIT,
    clamp_limit,
    endpoint_wants,
    window_of,
)
from .endpoints import EndpointUseCases
from .feed import FeedUseCases
from .history import HistoryUseCases
from .idempotency import IdempotencyUseCases
from .messages import MessageUseCases
from .openapi_import import OpenApiImport, OpenApiImportUseCases
from .operational import OperationalEvents
from .operations import OperationsUseCases
from .recovery import RecoveryUseCases
from .replay import ReplayUseCases
from .tasks import RunningTasks, TaskJob, TaskProgress, TaskUseCases
from .usage import UsageTask, UsageUseCases


class Service(AccessUseCases, CatalogueUseCases, EndpointUseCases, MessageUseCases,
              IdempotencyUseCases, HistoryUseCases, UsageUseCases, TaskUseCases,
              OpenApiImportUseCases, RecoveryUseCases, ReplayUseCases, FeedUseCases,
              OperationsUseCases):
    """Every use case of Hookline, over one store. `Runtime` builds it."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        transport: Transport,
        policy: EgressPolicy,
        on_due: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        box: SecretBox | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = box or store.box
        self.transport = transport
        self.policy = policy
        self.on_due = on_due or (lambda: None)
        self.clock = clock
        self.tracing = tracing or Tracing()
        self.config = ConfigCache(store)
        self.running_tasks = RunningTasks()
        # Operational events are ordinary publishes into the internal application.
        self.operational = OperationalEvents(store, clock, publisher=self)


# `Page` is what every list use case returns.
__all__ = ["ADMIN_TOKEN_KEY", "ALL_EVENTS", "DEFAULT_ROTATION_GRACE", "MAX_LIMIT",
           "OpenApiImport", "Page", "Service", "TaskJob", "TaskProgress", "UsageTask",
           "clamp_limit", "endpoint_wants", "window_of"]
