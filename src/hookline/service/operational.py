"""Operational webhooks: Hookline tells the operator's own endpoints what happens to everyone
else's endpoints (created, updated, deleted, disabled, enabled) and deliveries (failing,
exhausted, recovered).

They are ordinary webhooks of a hidden internal application: its endpoints are the operational
endpoints, and an event is one `publish` into it, so they are stored, signed (Standard
Webhooks) and retried like any other. Nothing that happens inside that application is reported,
so a failing operational endpoint cannot feed itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .. import ids
from ..envelopes import iso_time
from ..errors import Conflict, HooklineError, NotFound
from ..logs import log_ids
from ..models import Application, AttemptTrigger, DeliveryStatus, Endpoint
from ..store.base import DeliveryResult, Store

log = logging.getLogger(__name__)

OPERATIONAL_APP_UID = "__hookline_operational__"
RESERVED_UID_PREFIX = "__hookline"
ENDPOINT_CREATED = "endpoint.created"
ENDPOINT_UPDATED = "endpoint.updated"
ENDPOINT_DELETED = "endpoint.deleted"
ENDPOINT_DISABLED = "endpoint.disabled"
ENDPOINT_ENABLED = "endpoint.enabled"
ATTEMPT_FAILING = "message.attempt.failing"
ATTEMPT_EXHAUSTED = "message.attempt.exhausted"
ATTEMPT_RECOVERED = "message.attempt.recovered"
# Hookline extras, in the endpoint events' shape: an endpoint's circuit opened (it answered
# 429/503 with Retry-After, or timed out or refused connections in a row) and closed again.
ENDPOINT_FAILING = "endpoint.failing"
ENDPOINT_RECOVERED = "endpoint.recovered"
EVENT_TYPES = (ENDPOINT_CREATED, ENDPOINT_UPDATED, ENDPOINT_DELETED, ENDPOINT_DISABLED,
               ENDPOINT_ENABLED, ATTEMPT_FAILING, ATTEMPT_EXHAUSTED, ATTEMPT_RECOVERED,
               ENDPOINT_FAILING, ENDPOINT_RECOVERED)
# Why an endpoint was enabled again (`reason` of endpoint.enabled, a Hookline extra).
ENABLED_BY_PROBE = "probe succeeded"
ENABLED_BY_HAND = "manual"
# Like Svix: a message is "failing" once its fourth attempt to an endpoint has failed.
FAILING_AFTER_ATTEMPTS = 4
# Seconds before asking the database again whether an operator configured operational webhooks.
ABSENT_RECHECK = 5.0


class EventPublisher(Protocol):
    """All operational events need of the service: an ordinary publish."""

    async def publish(self, app_key: Application, event_type: str, payload: Any) -> object: ...


class OperationalEvents:
    """Publishes operational events; also the delivery worker's `WorkerHooks`."""

    def __init__(self, store: Store, clock: Callable[[], float],
                 publisher: EventPublisher) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self._app: Application | None = None
        self._absent_until = 0.0

    async def app(self) -> Application | None:
        """The internal application, or None while no operator configured one. The worker
        asks after every batch, so "none yet" is remembered for a few seconds. This is the
        one way to it: by id or uid, the service's lookup does not find it."""
        if self._app is None:
            if self.clock() < self._absent_until:
                return None
            try:
                self._app = await self.store.get_app(OPERATIONAL_APP_UID)
            except NotFound:
                self._absent_until = self.clock() + ABSENT_RECHECK
                return None
        return self._app

    async def app_id(self) -> str | None:
        app = await self.app()
        return app.id if app else None

    async def ensure_app(self) -> Application:
        store = self.store
        try:
            app = await store.get_app(OPERATIONAL_APP_UID)
        except NotFound:
            now = self.clock()
            app = Application(id=ids.new_id(ids.APPLICATION), uid=OPERATIONAL_APP_UID,
                              name="Hookline operational webhooks", created_at=now,
                              updated_at=now)
            try:
                await store.insert_app(app)
            except Conflict:  # another process created it first
                app = await store.get_app(OPERATIONAL_APP_UID)
        self._app = app
        return app

    def is_internal(self, app: Application) -> bool:
        return app.uid == OPERATIONAL_APP_UID

    async def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish one event to the operational endpoints; never fails the caller."""
        app = await self.app()
        if app is None:
            return
        try:
            await self.publisher.publish(app, event_type, data)
        except HooklineError as exc:
            log.warning("cannot publish operational event %s: %s", event_type, exc.detail)

    async def endpoint_changed(self, event_type: str, endpoint: Endpoint,
                               **extra: Any) -> None:
        if await self.app_id() in (None, endpoint.app_id):
            return
        app = await self._app_of(endpoint.app_id)
        await self.emit(event_type, {"appId": endpoint.app_id, "appUid": app.uid if app else None,
                                     "endpointId": endpoint.id, "endpointUid": endpoint.uid,
                                     **extra})

    async def endpoint_disabled(self, endpoint: Endpoint, trigger: str) -> None:
        fail_since = iso_time(endpoint.failing_since) if endpoint.failing_since else None
        await self.endpoint_changed(ENDPOINT_DISABLED, endpoint, trigger=trigger,
                                    failSince=fail_since, reason=endpoint.disabled_reason)

    async def endpoint_enabled(self, endpoint: Endpoint, reason: str) -> None:
        await self.endpoint_changed(ENDPOINT_ENABLED, endpoint, reason=reason)

    async def circuit_changed(self, endpoint: Endpoint, paused_until: float | None,
                              reason: str | None) -> None:
        """Called by the worker when an endpoint's circuit opens (`paused_until`) or closes."""
        if paused_until is None:
            await self.endpoint_changed(ENDPOINT_RECOVERED, endpoint)
        else:
            await self.endpoint_changed(ENDPOINT_FAILING, endpoint, reason=reason,
                                        pausedUntil=iso_time(paused_until))

    async def attempt_recovered(self, result: DeliveryResult) -> None:
        """A probe or a replay delivered a message whose previous attempt to that endpoint
        failed (a message that never failed there did not recover)."""
        if await self.app_id() in (None, result.attempt.app_id):
            return
        if await self.store.failed_before(result.attempt):
            await self._attempt_event(ATTEMPT_RECOVERED, result)

    async def after_record(self, results: list[DeliveryResult],
                           disabled: list[Endpoint]) -> None:
        """Called by the worker after each batch of attempts is stored."""
        for endpoint in disabled:
            log.warning("endpoint %s disabled: its failure rule was met", endpoint.id,
                        extra=log_ids(app=endpoint.app_id, endpoint=endpoint.id))
            await self.endpoint_disabled(endpoint, "automatic")
        for event_type, result in _attempt_events(results):
            operational = await self.app_id()
            if operational in (None, result.attempt.app_id):
                continue
            await self._attempt_event(event_type, result)
        for result in results:
            if _replay_delivered(result):
                await self.attempt_recovered(result)

    async def _attempt_event(self, event_type: str, result: DeliveryResult) -> None:
        attempt = result.attempt
        app = await self._app_of(attempt.app_id)
        try:
            message = await self.store.get_message(attempt.app_id, attempt.message_id)
            event_id = message.event_id
        except NotFound:
            event_id = None
        await self.emit(event_type, {
            "appId": attempt.app_id, "appUid": app.uid if app else None,
            "msgId": attempt.message_id, "msgEventId": event_id,
            "endpointId": attempt.endpoint_id,
            "lastAttempt": {"id": attempt.id, "timestamp": iso_time(attempt.created_at),
                            "responseStatusCode": attempt.status_code or 0,
                            "errorKind": attempt.error_kind}})

    async def _app_of(self, app_id: str) -> Application | None:
        try:
            return await self.store.get_app(app_id)
        except NotFound:
            return None


def _replay_delivered(result: DeliveryResult) -> bool:
    """A replay's (or a resend's) first attempts that succeeded: recovered if the message
    had failed before, which only the store knows. Later ones are `_attempt_events`'."""
    attempt = result.attempt
    return (attempt.succeeded and attempt.trigger == AttemptTrigger.MANUAL
            and attempt.attempt_number <= FAILING_AFTER_ATTEMPTS)


def _attempt_events(results: Sequence[DeliveryResult]) -> list[tuple[str, DeliveryResult]]:
    events = []
    for result in results:
        attempt = result.attempt
        if attempt.trigger == AttemptTrigger.TEST:
            continue
        if attempt.succeeded:
            if attempt.attempt_number > FAILING_AFTER_ATTEMPTS:
                events.append((ATTEMPT_RECOVERED, result))
            continue
        if attempt.attempt_number == FAILING_AFTER_ATTEMPTS:
            events.append((ATTEMPT_FAILING, result))
        if result.status == DeliveryStatus.FAILED:
            events.append((ATTEMPT_EXHAUSTED, result))
    return events
