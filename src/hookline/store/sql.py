"""`SqlStore`: the one implementation of `Store` that both databases share.

It combines the subject modules; `SqliteStore` and `PostgresStore` give it a driver and a
`Dialect`, and supply `listen`. Nothing here or in the subject modules knows which database
it talks to.
"""

from __future__ import annotations

from .access import AccessQueries
from .attempted import AttemptedQueries
from .attempts import AttemptQueries
from .deliveries import DeliveryQueries
from .history import HistoryQueries
from .idempotency import IdempotencyQueries
from .messages import MessageQueries
from .operations import OperationsQueries
from .recovery import RecoveryQueries
from .resources import ResourceQueries
from .tasks import TaskQueries


class SqlStore(ResourceQueries, MessageQueries, DeliveryQueries, AttemptQueries, AccessQueries,
               IdempotencyQueries, HistoryQueries, TaskQueries, AttemptedQueries,
               RecoveryQueries, OperationsQueries):
    """Hookline's persistence over a SQL driver and its dialect."""
