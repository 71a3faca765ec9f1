"""The `Store` interface: everything Hookline keeps, as the rest of the code may ask for it.

Callers (the service, the worker, the runtime) type against `Store` and nothing else.
`SqliteStore` (sqlite.py) and `PostgresStore` (postgres.py) implement it over one shared body
of code, `SqlStore` (sql.py), whose methods live by subject in `resources.py`, `messages.py`,
`deliveries.py`, `attempts.py`, `access.py` and `idempotency.py`.

Where things go: a new statement is a named attribute in `queries.py`; a difference between
SQLite and PostgreSQL is a method of the `Dialect` (dialect.py); a business rule (who gets a
message, when an endpoint is disabled) is not here at all: the caller passes it in.
Times are epoch seconds (float); JSON is stored as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ..health import QueueDepth, WorkerBeat
from ..models import (
    Application,
    Attempt,
    AttemptTrigger,
    BackgroundTask,
    Endpoint,
    EventType,
    Message,
    TaskStatus,
)
from ..secretbox import SecretBox
from ..tokens import ApiToken, PortalGrant, PortalLink
from .core import (
    Claim,
    Connection,
    Database,
    DeliveryResult,
    DisableRule,
    Page,
    PublishResult,
    Row,
    Select,
    Subscription,
    Window,
    new_lease_id,
)
from .history import PurgeCounts
from .idempotency import IdempotentRequest, StoredAnswer
from .recovery import DeliveredMessage, ReplayCount, ReplayWindow, Wanted

StopListening = Callable[[], Awaitable[None]]


class Store(Protocol):
    """Hookline's persistence: SQLite or PostgreSQL, chosen from the database URL."""

    box: SecretBox
    """Seals the secrets kept at rest; the service seals and opens with the same one."""

    # -- lifecycle -----------------------------------------------------------------------
    async def migrate(self) -> list[int]:
        """Apply the numbered migrations not applied yet; returns the versions applied."""
        ...

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""
        ...

    async def close(self) -> None: ...

    async def listen(self, callback: Callable[[], None]) -> StopListening:
        """Call `callback` whenever another process makes deliveries due; returns how to
        stop. Where the database cannot tell (SQLite), it never calls: workers poll."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction this task has open commits (never, if it
        rolls back), or at once if none is: for work that must see what it wrote, such as
        a background job started inside an idempotent request."""
        ...

    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...

    # -- applications, event types, endpoints, tokens ------------------------------------
    async def insert_app(self, app: Application) -> Application: ...
    async def get_app(self, key: str) -> Application:
        """By id or uid; `NotFound` if neither."""
        ...

    async def list_apps(self, limit: int, iterator: str | Window | None) -> Page:
        """A page as the window says; a plain iterator reads ascending after it."""
        ...

    async def update_app(self, app: Application) -> Application: ...
    async def delete_app(self, app_id: str) -> None:
        """The application and everything that belongs to it."""
        ...

    async def upsert_event_type(self, et: EventType) -> EventType: ...
    async def upsert_event_types(self, types: Sequence[EventType]) -> int:
        """Create or replace many in one transaction; returns how many were new."""
        ...

    async def get_event_type(self, name: str) -> EventType: ...
    async def find_event_type(self, name: str) -> EventType | None: ...
    async def list_event_types(self, limit: int, iterator: str | Window | None,
                               include_archived: bool = False) -> Page: ...
    async def all_event_types(self) -> list[EventType]: ...
    async def delete_event_type(self, name: str) -> None: ...

    async def insert_endpoint(self, ep: Endpoint) -> Endpoint: ...
    async def update_endpoint(self, ep: Endpoint) -> Endpoint:
        """Write its configuration; a re-enabled endpoint's failure streak starts afresh."""
        ...

    async def get_endpoint(self, app_id: str, key: str) -> Endpoint: ...
    async def list_endpoints(self, app_id: str, limit: int,
                             iterator: str | Window | None) -> Page: ...
    async def delete_endpoint(self, app_id: str, endpoint_id: str) -> None: ...

    async def insert_api_token(self, token: ApiToken) -> None: ...
    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) application token with this hash."""
        ...

    async def list_api_tokens(self, app_id: str) -> list[ApiToken]: ...
    async def revoke_api_token(self, app_id: str, token_id: str, now: float) -> bool: ...

    # -- messages ------------------------------------------------------------------------
    async def publish(self, message: Message, idempotency_key: str | None,
                      select: Select | None = None) -> PublishResult:
        """Store a message and its deliveries (to the endpoints `select` picks) at once."""
        ...

    async def publish_batch(self, drafts: Sequence[tuple[Message, str | None]],
                            select: Select | None = None,
                            subscriptions: list[Subscription] | None = None,
                            expected_version: int | None = None,
                            payload_texts: Mapping[str, str] | None = None,
                            ) -> list[PublishResult]:
        """`publish` for messages of one application, in one transaction; `subscriptions`
        is the application's routing table, when the caller holds it. If the configuration
        version is no longer `expected_version` (when given), nothing is written:
        `StaleConfiguration`. `payload_texts`: message id -> its payload as stored JSON, when
        the caller has encoded it already (to check its size)."""
        ...

    async def list_subscriptions(self, app_id: str) -> list[Subscription]:
        """The application's routing table: what fan-out needs of each endpoint."""
        ...

    async def config_version(self) -> int:
        """A number that moves with every change to applications, endpoints' settings, event
        types, tokens and the admin token, made by any process (see service/config_cache)."""
        ...

    async def get_message(self, app_id: str, key: str) -> Message: ...
    async def list_messages(self, app_id: str, limit: int, iterator: str | Window | None,
                            event_types: Sequence[str] | None = None,
                            before: float | None = None, after: float | None = None,
                            channel: str | None = None, tag: str | None = None) -> Page: ...
    async def record_test_send(self, message: Message, attempt: Attempt) -> None:
        """A test send's message and its one attempt; nothing retries it."""
        ...

    # -- the delivery queue --------------------------------------------------------------
    async def claim_due_deliveries(self, owner: str, limit: int, now: float, lease: float,
                                   exclude_endpoints: Sequence[str] = (),
                                   room: Mapping[str, int] | None = None,
                                   default_room: int | None = None,
                                   default_cap: int | None = None,
                                   busy: Mapping[str, int] | None = None) -> list[Claim]:
        """Lease up to `limit` due deliveries for `lease` seconds (see `Claim`), fairly across
        endpoints, none of `exclude_endpoints` or of a paused endpoint; of any one endpoint at
        most `room[endpoint id]` (else `default_room`), what its global cap (else
        `default_cap`) leaves beside other workers' leases and the `busy` requests `owner` has
        in flight to it, and what its rate limit allows."""
        ...

    async def pause_endpoint(self, endpoint_id: str, until: float, seconds: float,
                             reason: str) -> None:
        """Open the endpoint's circuit until `until` (a pause of `seconds`, for `reason`)."""
        ...

    async def resume_endpoint(self, endpoint_id: str) -> None: ...
    async def endpoint_pause(self, endpoint_id: str) -> tuple[float | None, float]:
        """(paused until, pause length); (None, 0.0) while its circuit is closed."""
        ...

    async def open_circuit_count(self) -> int:
        """Enabled endpoints whose circuit is open or half open."""
        ...

    async def record_results(self, results: Sequence[DeliveryResult],
                             should_disable: DisableRule) -> list[Endpoint]:
        """Store finished attempts and their deliveries' new state at once; returns the
        endpoints `should_disable` just disabled."""
        ...

    async def release_deliveries(self, claims: Sequence[Claim], at: float) -> None:
        """Hand claimed deliveries back unsent: no attempt counts."""
        ...

    async def next_due_at(self) -> float | None: ...
    async def requeue_delivery(self, app_id: str, message_id: str, endpoint_id: str,
                               now: float,
                               trigger: AttemptTrigger = AttemptTrigger.MANUAL) -> None: ...
    async def requeue_failed_since(self, app_id: str, endpoint_id: str, since: float,
                                   now: float, until: float | None = None) -> int: ...
    async def delivery_counts(self) -> dict[str, int]: ...

    # -- self-healing, replays, pull feeds (recovery.py) ----------------------------------
    async def endpoints_to_probe(self, now: float, limit: int) -> list[Endpoint]: ...
    async def move_probe(self, endpoint_id: str, next_at: float | None, seen: float | None,
                         probes_made: int) -> bool: ...
    async def ensure_delivery(self, message: Message, endpoint_id: str, now: float) -> int: ...
    async def oldest_missed(self, endpoint: Endpoint,
                            window: ReplayWindow) -> Message | None: ...
    async def count_missed(self, endpoint: Endpoint, since: float,
                           event_types: Sequence[str] | None,
                           channels: Sequence[str] | None) -> int: ...
    async def failed_before(self, attempt: Attempt) -> bool: ...
    async def enable_and_replay(self, endpoint: Endpoint, now: float,
                                window: ReplayWindow) -> ReplayCount | None: ...
    async def replay_missed(self, endpoint: Endpoint, window: ReplayWindow, now: float,
                            dry_run: bool = False) -> ReplayCount: ...
    async def replay_messages(self, endpoint: Endpoint, messages: list[Message],
                              window: ReplayWindow, now: float) -> None: ...
    def delivered_messages(self, endpoint: Endpoint, since: float, until: float | None
                           ) -> AsyncIterator[DeliveredMessage]: ...
    async def feed_page(self, endpoint: Endpoint, after: str, limit: int,
                        wanted: Wanted | None) -> tuple[list[Message], str]: ...
    async def feed_position(self, endpoint_id: str, consumer_id: str) -> str | None: ...
    async def set_feed_position(self, endpoint: Endpoint, consumer_id: str, position: str,
                                now: float) -> None: ...

    # -- attempts and statistics ---------------------------------------------------------
    async def list_attempts(self, app_id: str, limit: int, iterator: str | Window | None, *,
                            message_id: str | None = None, endpoint_id: str | None = None,
                            succeeded: bool | None = None,
                            event_types: Sequence[str] | None = None,
                            before: float | None = None,
                            after: float | None = None,
                            status_code_class: int | None = None,
                            channel: str | None = None, tag: str | None = None) -> Page:
        """`status_code_class`: 0 (no response) or the hundreds of the status (Svix)."""
        ...

    async def list_latest_attempts(self, app_id: str, endpoint_id: str, limit: int,
                                   iterator: str | None, *, succeeded: bool | None = None,
                                   event_types: Sequence[str] | None = None,
                                   before: float | None = None,
                                   after: float | None = None) -> Page: ...
    async def attempts_of_messages(self, app_id: str, endpoint_id: str,
                                   message_ids: Sequence[str]) -> list[Attempt]: ...

    async def get_messages(self, app_id: str, message_ids: Sequence[str]) -> list[Message]:
        """The application's messages of these ids (those that exist), in no order."""
        ...

    async def get_attempt(self, app_id: str, attempt_id: str) -> Attempt: ...
    async def endpoint_delivery_counts(self, app_id: str, endpoint_id: str, since: float,
                                       until: float, now: float) -> dict[str, int]: ...
    async def endpoint_attempt_counts(self, app_id: str, endpoint_id: str,
                                      starts: Sequence[float]) -> list[tuple[int, int]]: ...
    async def endpoint_hourly_counts(self, app_id: str, endpoint_id: str,
                                     since: float) -> list[tuple[int, int, int]]: ...

    # -- retention and content expunge (history.py) --------------------------------------
    async def purge_batch(self, now: float, history_before: float, content_before: float,
                          limit: int) -> PurgeCounts | None:
        """One bounded, idempotent step of retention (see history.py); None when another
        process is purging."""
        ...

    async def reclaim_space(self, *, purged: bool = True, vacuum: bool = True) -> list[str]:
        """After a purge round: hand the space it freed back (SQLite, when it `purged`), or
        make dead rows' space reusable where nothing else does (PostgreSQL with autovacuum
        off, when `vacuum`); the tables vacuumed."""
        ...

    async def set_payload_expiry(self, app_id: str, message_id: str, at: float) -> None: ...
    async def expunge_message(self, app_id: str, key: str, now: float) -> str | None:
        """Erase the message's content and its attempts'; its id, or None if not found."""
        ...

    async def expunge_attempt(self, app_id: str, message_id: str, attempt_id: str) -> bool: ...
    async def expunge_app_batch(self, app_id: str, now: float, limit: int) -> int:
        """Erase up to `limit` messages' and attempts' content; 0 once nothing is left."""
        ...

    # -- portal access -------------------------------------------------------------------
    async def insert_portal_link(self, link: PortalLink) -> None: ...
    async def use_portal_link(self, link_id: str, now: float) -> PortalLink | None:
        """Mark the link used if it was unused and unexpired; of two uses, one gets it."""
        ...

    async def end_portal_link(self, link_id: str, now: float) -> None: ...
    async def insert_portal_session(self, grant: PortalGrant) -> None: ...
    async def find_portal_session(self, grant_id: str, now: float,
                                  admin_key: str) -> PortalGrant | None: ...
    async def end_portal_session(self, grant_id: str, now: float) -> None: ...
    async def expire_portal_access(self, app_id: str, at: float,
                                   session_tags: Sequence[str] | None) -> None: ...

    # -- Svix's views of deliveries, usage ------------------------------------------------
    async def list_endpoint_messages(
        self, app_id: str, endpoint_id: str, limit: int, iterator: str | Window | None,
        now: float, *,
        status: str | None = None, channel: str | None = None, tag: str | None = None,
        before: float | None = None, after: float | None = None,
        event_types: Sequence[str] | None = None,
    ) -> Page:
        """(Message, DeliveryState) pairs of what went or goes to the endpoint, newest first."""
        ...

    async def list_message_endpoints(self, app_id: str, message_id: str, limit: int,
                                     iterator: str | Window | None, now: float) -> Page:
        """(Endpoint, DeliveryState) pairs of the endpoints the message goes to."""
        ...

    async def app_delivery_counts(self, since: float, until: float,
                                  app_ids: Sequence[str] | None) -> dict[str, int]:
        """Deliveries created in [since, until) per application (of `app_ids`, if given)."""
        ...

    async def endpoint_filters(self) -> list[tuple[str, list[str] | None]]:
        """(application id, filter types) of every enabled endpoint."""
        ...

    # -- background tasks ----------------------------------------------------------------
    async def insert_task(self, task: BackgroundTask) -> None: ...
    async def update_task(self, task: BackgroundTask) -> None:
        """Write its status and data (and when they changed)."""
        ...

    async def get_task(self, task_id: str) -> BackgroundTask: ...
    async def list_tasks(self, limit: int, window: Window, *,
                         status: TaskStatus | None = None, kinds: Sequence[str] | None = None,
                         app_id: str | None = None) -> Page:
        """Newest or oldest first as `window` says; `app_id`: that application's only."""
        ...
    # -- operations (status, readiness, heartbeats) ---------------------------------------
    async def queue_depth(self, now: float) -> QueueDepth: ...
    async def endpoint_states(self) -> dict[str, int]:
        """Endpoints by state: enabled, disabled."""
        ...

    async def beat_worker(self, beat: WorkerBeat) -> None: ...
    async def end_worker(self, name: str) -> None: ...
    async def live_workers(self, since: float) -> list[WorkerBeat]: ...
    async def pending_migrations(self) -> list[int]: ...

    # -- idempotent requests -------------------------------------------------------------
    def idempotent(self, scope: str, key: str, request: str,
                   now: float) -> AbstractAsyncContextManager[IdempotentRequest]:
        """A transaction holding the key, which the caller's writes join (see idempotency.py)."""
        ...


__all__ = ["Claim", "Connection", "Database", "DeliveredMessage", "DeliveryResult", "DisableRule",
           "IdempotentRequest", "Page", "PublishResult", "PurgeCounts", "ReplayCount",
           "ReplayWindow", "Row", "Select", "StopListening", "Store", "StoredAnswer",
           "Subscription", "Wanted", "Window", "new_lease_id"]
