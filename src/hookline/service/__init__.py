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
from ..errors import StaleConfiguration, StoreUnavailable
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
from .group_commit import GroupCommit
from .history import HistoryUseCases
from .idempotency import IdempotencyUseCases
from .messages import MAX_BATCH, MessageUseCases
from .openapi_import import OpenApiImport, OpenApiImportUseCases
from .operational import OperationalEvents
from .operations import OperationsUseCases
from .recovery import RecoveryUseCases
from .replay import ReplayUseCases
from .tasks import RunningTasks, TaskJob, TaskProgress, TaskUseCases
from .usage import UsageTask, UsageUseCases

# Single publishes that may wait for, or be in, a group write, in groups: beyond, a publish
# waits for room before it is queued.
MAX_GROUPS_WAITING = 4


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
        # A moved configuration version (the lane's), a database away: no one publish's
        # fault, so not worth writing each again alone.
        self.publish_groups = GroupCommit(
            self.write_publish_group, max_group=MAX_BATCH,
            max_waiting=MAX_GROUPS_WAITING * MAX_BATCH,
            whole_group=(StaleConfiguration, StoreUnavailable)) if settings.group_commit else None


# `Page` is what every list use case returns.
__all__ = ["ADMIN_TOKEN_KEY", "ALL_EVENTS", "DEFAULT_ROTATION_GRACE", "MAX_LIMIT",
           "OpenApiImport", "Page", "Service", "TaskJob", "TaskProgress", "UsageTask",
           "clamp_limit", "endpoint_wants", "window_of"]
