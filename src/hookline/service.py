"""Hookline's use cases. The API, the portal and the CLI call these; none of them writes SQL."""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from . import ids
from .config import Settings
from .delivery.egress import EgressPolicy
from .delivery.request import prepare_request, request_deadline
from .delivery.sender import Sender
from .errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from .models import (
    Application,
    Attempt,
    AttemptTrigger,
    DeliveryOptions,
    Endpoint,
    EventType,
    Message,
)
from .operational import (
    ENDPOINT_CREATED,
    ENDPOINT_DELETED,
    ENDPOINT_UPDATED,
    RESERVED_UID_PREFIX,
    OperationalEvents,
)
from .portal.access import PORTAL_KEY_LABEL, sign_portal_token
from .secretbox import SecretBox
from .signing import generate_secret, validate_secret
from .stats import (
    DAY,
    DEFAULT_PERIOD,
    HOUR,
    MAX_HOURS,
    WEEK,
    EndpointHealth,
    HourBucket,
    WindowCounts,
    fill_hours,
    health_colour,
    hour_start,
)
from .store.base import Page, PublishResult, Store, Subscription
from .tokens import MAX_TOKEN_NAME, ApiToken, hash_token, new_app_token
from .validation import check_headers, check_options, check_url

ALL_EVENTS = "ALL_EVENTS"
ADMIN_TOKEN_KEY = "admin_token_sha256"
MAX_LIMIT = 250
_EVENT_TYPE_NAME = r"^[A-Za-z0-9_.\-*]{1,256}$"
DEFAULT_ROTATION_GRACE = 24 * 3600.0
MAX_ROTATION_GRACE = 7 * 24 * 3600.0
PORTAL_ACCESS_MIN_TTL = 60
PORTAL_ACCESS_MAX_TTL = 7 * 24 * 3600


def endpoint_wants(endpoint: Endpoint | Subscription, message: Message) -> bool:
    """Fan-out rule: event type filter (null or ALL_EVENTS = everything; `customer.*` matches a
    group) and channels (an endpoint with channels only gets messages sharing one)."""
    if endpoint.disabled:
        return False
    if endpoint.filter_types is not None and ALL_EVENTS not in endpoint.filter_types:
        if not any(fnmatch.fnmatchcase(message.event_type, pattern)
                   for pattern in endpoint.filter_types):
            return False
    if endpoint.channels is not None:
        if not message.channels or not set(endpoint.channels) & set(message.channels):
            return False
    return True


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return 50
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


class Service:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        on_due: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        box: SecretBox | None = None,
        sender: Sender | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = box or store.box
        self.sender = sender or Sender(settings)
        self.policy = EgressPolicy.from_cidrs(settings.egress_allow)
        self.on_due = on_due or (lambda: None)
        self.clock = clock
        self.operational = OperationalEvents(self)

    # -- admin token ---------------------------------------------------------------------
    async def ensure_admin_token(self) -> str | None:
        """Store the admin token's hash. Returns a newly generated token (to print once) when
        none was configured or stored before."""
        if self.settings.admin_token:
            await self.store.set_meta(ADMIN_TOKEN_KEY, hash_token(self.settings.admin_token))
            return None
        if await self.store.get_meta(ADMIN_TOKEN_KEY):
            return None
        return await self.reset_admin_token()

    async def reset_admin_token(self) -> str:
        token = "hl_admin_" + secrets.token_urlsafe(32)
        await self.store.set_meta(ADMIN_TOKEN_KEY, hash_token(token))
        return token

    async def is_admin_token(self, token: str) -> bool:
        stored = await self.store.get_meta(ADMIN_TOKEN_KEY)
        return stored is not None and secrets.compare_digest(stored, hash_token(token))

    # -- applications --------------------------------------------------------------------
    async def create_app(self, name: str, uid: str | None = None,
                         metadata: dict[str, str] | None = None,
                         rate_limit: int | None = None) -> Application:
        _check_uid(uid)
        now = self.clock()
        app = Application(id=ids.new_id(ids.APPLICATION), uid=uid, name=name,
                          metadata=metadata or {}, rate_limit=rate_limit,
                          created_at=now, updated_at=now)
        return await self.store.insert_app(app)

    async def get_app(self, key: str) -> Application:
        """An application by id or uid. The internal operational application is not one."""
        app = await self.store.get_app(key)
        if self.operational.is_internal(app):
            raise NotFound(f"application {key!r} not found")
        return app

    async def list_apps(self, limit: int | None, iterator: str | None) -> Page:
        page = await self.store.list_apps(clamp_limit(limit), iterator)
        page.data = [app for app in page.data if not self.operational.is_internal(app)]
        return page

    async def update_app(self, key: str, **changes: Any) -> Application:
        app = await self.get_app(key)
        _check_uid(changes.get("uid"))
        app = replace(app, **changes, updated_at=self.clock())
        return await self.store.update_app(app)

    async def delete_app(self, key: str) -> None:
        app = await self.get_app(key)
        await self.store.delete_app(app.id)

    # -- event types ---------------------------------------------------------------------
    async def create_event_type(self, et: EventType) -> EventType:
        """Create an event type, or bring back an archived one (as Svix does)."""
        _check_event_type(et)
        existing = await self.store.find_event_type(et.name)
        if existing is not None and not existing.archived:
            raise Conflict(f"event type {et.name!r} already exists")
        now = self.clock()
        created = existing.created_at if existing else now
        return await self.store.upsert_event_type(replace(et, created_at=created, updated_at=now))

    async def upsert_event_type(self, et: EventType) -> EventType:
        _check_event_type(et)
        existing = await self.store.find_event_type(et.name)
        now = self.clock()
        created = existing.created_at if existing else now
        return await self.store.upsert_event_type(replace(et, created_at=created, updated_at=now))

    async def get_event_type(self, name: str) -> EventType:
        return await self.store.get_event_type(name)

    async def list_event_types(self, limit: int | None, iterator: str | None,
                               include_archived: bool = False) -> Page:
        return await self.store.list_event_types(clamp_limit(limit), iterator, include_archived)

    async def delete_event_type(self, name: str) -> None:
        await self.store.get_event_type(name)
        await self.store.delete_event_type(name)

    async def archive_event_type(self, name: str) -> EventType:
        """Svix's "delete": hidden from listings, still delivered and still filterable."""
        et = await self.store.get_event_type(name)
        return await self.store.upsert_event_type(
            replace(et, archived=True, updated_at=self.clock()))

    async def import_event_types(self, types: list[EventType]) -> tuple[int, int]:
        """Create or replace a whole catalogue at once, all or nothing: (created, updated)."""
        seen: set[str] = set()
        for et in types:
            _check_event_type(et)
            if et.name in seen:
                raise InvalidInput(f"event type {et.name!r} appears twice", field="eventTypes")
            seen.add(et.name)
        now = self.clock()
        created = await self.store.upsert_event_types(
            [replace(et, created_at=now, updated_at=now) for et in types])
        return created, len(types) - created

    async def export_event_types(self) -> list[EventType]:
        return await self.store.all_event_types()

    # -- endpoints -----------------------------------------------------------------------
    def _checked_endpoint(self, ep: Endpoint) -> Endpoint:
        check_url(ep.url, self.policy, production=self.settings.production)
        check_options(ep.options)
        ep.headers = check_headers(ep.headers, ep.options)
        validate_secret(ep.secret, ep.options.signature_scheme)
        _check_uid(ep.uid)
        if ep.filter_types is not None:
            if len(ep.filter_types) == 0:
                raise InvalidInput("filterTypes must not be empty; use null for all events",
                                   field="filterTypes")
            for name in ep.filter_types:
                _check_event_type_name(name, "filterTypes")
        if ep.channels is not None and len(ep.channels) == 0:
            raise InvalidInput("channels must not be empty; use null for all channels",
                               field="channels")
        return ep

    async def create_endpoint(
        self,
        app_key: str,
        *,
        url: str,
        secret: str | None = None,
        options: DeliveryOptions | None = None,
        **fields: Any,
    ) -> Endpoint:
        app = await self.store.get_app(app_key)
        now = self.clock()
        ep = Endpoint(id=ids.new_id(ids.ENDPOINT), app_id=app.id, url=url,
                      secret=secret or generate_secret(), options=options or DeliveryOptions(),
                      created_at=now, updated_at=now, **fields)
        await self.store.insert_endpoint(self._checked_endpoint(ep))
        await self.operational.endpoint_changed(ENDPOINT_CREATED, ep)
        return ep

    async def get_endpoint(self, app_key: str, key: str) -> Endpoint:
        app = await self.store.get_app(app_key)
        return await self.store.get_endpoint(app.id, key)

    async def list_endpoints(self, app_key: str, limit: int | None,
                             iterator: str | None) -> Page:
        app = await self.store.get_app(app_key)
        return await self.store.list_endpoints(app.id, clamp_limit(limit), iterator)

    async def update_endpoint(self, app_key: str, key: str, **changes: Any) -> Endpoint:
        """Change an endpoint. Re-enabling clears its failure streak and wakes its pending
        deliveries, which were kept while it was disabled."""
        ep = await self.get_endpoint(app_key, key)
        was_disabled = ep.disabled
        ep = replace(ep, **changes, updated_at=self.clock())
        if "disabled" in changes and not ep.disabled:
            ep.disabled_reason = None
        elif ep.disabled and not was_disabled and "disabled_reason" not in changes:
            ep.disabled_reason = "disabled manually"
        await self.store.update_endpoint(self._checked_endpoint(ep))
        if was_disabled and not ep.disabled:
            self.on_due()
        await self.operational.endpoint_changed(ENDPOINT_UPDATED, ep)
        if ep.disabled and not was_disabled:
            await self.operational.endpoint_disabled(ep, "manual")
        return ep

    async def delete_endpoint(self, app_key: str, key: str) -> Endpoint:
        ep = await self.get_endpoint(app_key, key)
        await self.store.delete_endpoint(ep.app_id, ep.id)
        await self.operational.endpoint_changed(ENDPOINT_DELETED, ep)
        return ep

    # -- messages ------------------------------------------------------------------------
    async def publish(
        self,
        app_key: str,
        event_type: str,
        payload: Any,
        *,
        event_id: str | None = None,
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
        ordering_key: str | None = None,
    ) -> PublishResult:
        """Store a message and fan it out in one transaction; once this returns, every
        matching delivery exists durably."""
        app = await self.store.get_app(app_key)
        _check_event_type_name(event_type, "eventType")
        if not isinstance(payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is {size} bytes; the limit is {self.settings.max_payload_bytes}")
        if channels is not None and not 1 <= len(channels) <= 10:
            raise InvalidInput("channels must hold 1 to 10 names", field="channels")
        if not self.operational.is_internal(app):
            await self._check_against_catalogue(event_type, payload)
        message = Message(id=ids.new_id(ids.MESSAGE), app_id=app.id, event_type=event_type,
                          payload=payload, event_id=event_id, channels=channels,
                          created_at=self.clock(), ordering_key=ordering_key)
        result = await self.store.publish(
            message, idempotency_key,
            lambda endpoints: [ep for ep in endpoints if endpoint_wants(ep, message)])
        if result.endpoint_ids:
            self.on_due()
        return result

    async def _check_against_catalogue(self, event_type: str, payload: dict[str, Any]) -> None:
        et = await self.store.find_event_type(event_type)
        if et is None:
            if self.settings.strict_event_types:
                raise InvalidInput(f"unknown event type {event_type!r}", field="eventType")
            return
        if et.schema:
            validator = Draft202012Validator(et.schema)
            error = next(iter(sorted(validator.iter_errors(payload), key=lambda e: e.path)),
                         None)
            if error is not None:
                path = "payload" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                                           for p in error.absolute_path)
                raise InvalidInput(f"{path}: {error.message}", field=path)

    async def get_message(self, app_key: str, key: str) -> Message:
        app = await self.store.get_app(app_key)
        return await self.store.get_message(app.id, key)

    async def list_messages(self, app_key: str, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.store.get_app(app_key)
        return await self.store.list_messages(app.id, clamp_limit(limit), iterator, **filters)

    # -- attempts, resend, recover ---------------------------------------------------------
    async def list_attempts(self, app_key: str, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.store.get_app(app_key)
        if filters.get("message_id"):
            filters["message_id"] = (await self.store.get_message(app.id,
                                                                  filters["message_id"])).id
        if filters.get("endpoint_id"):
            filters["endpoint_id"] = (await self.store.get_endpoint(app.id,
                                                                    filters["endpoint_id"])).id
        return await self.store.list_attempts(app.id, clamp_limit(limit), iterator, **filters)

    async def resend(self, app_key: str, message_key: str, endpoint_key: str) -> None:
        app = await self.store.get_app(app_key)
        message = await self.store.get_message(app.id, message_key)
        endpoint = await self.store.get_endpoint(app.id, endpoint_key)
        await self.store.requeue_delivery(app.id, message.id, endpoint.id, self.clock(),
                                          AttemptTrigger.MANUAL)
        self.on_due()

    async def recover(self, app_key: str, endpoint_key: str, since: float,
                      until: float | None = None) -> int:
        """Send again every failed delivery of the endpoint created between since and until."""
        if until is not None and until < since:
            raise InvalidInput("until must not be before since", field="until")
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        count = await self.store.requeue_failed_since(endpoint.app_id, endpoint.id, since,
                                                      self.clock(), until)
        if count:
            self.on_due()
        return count

    async def get_attempt(self, app_key: str, message_key: str, attempt_id: str) -> Attempt:
        message = await self.get_message(app_key, message_key)
        attempt = await self.store.get_attempt(message.app_id, attempt_id)
        if attempt.message_id != message.id:
            raise NotFound(f"attempt {attempt_id!r} not found")
        return attempt

    # -- application-scoped API tokens -----------------------------------------------------
    async def create_app_token(self, app_key: str, name: str = "",
                               read_only: bool = False) -> tuple[ApiToken, str]:
        """A new token for one application; the plain token is returned here only."""
        app = await self.get_app(app_key)
        if len(name) > MAX_TOKEN_NAME:
            raise InvalidInput(f"name is longer than {MAX_TOKEN_NAME} characters", field="name")
        plain = new_app_token()
        token = ApiToken(id=ids.new_id(ids.TOKEN), app_id=app.id, name=name,
                         read_only=read_only, created_at=self.clock(),
                         token_hash=hash_token(plain))
        await self.store.insert_api_token(token)
        return token, plain

    async def list_app_tokens(self, app_key: str) -> list[ApiToken]:
        app = await self.get_app(app_key)
        return await self.store.list_api_tokens(app.id)

    async def revoke_app_token(self, app_key: str, token_id: str) -> None:
        app = await self.get_app(app_key)
        if not await self.store.revoke_api_token(app.id, token_id, self.clock()):
            raise NotFound(f"token {token_id!r} not found")

    async def principal_for_token(self, token: str) -> tuple[str, bool] | None:
        """(application id, read-only) for a live application token; None for anything else."""
        found = await self.store.find_api_token(hash_token(token))
        return None if found is None else (found.app_id, found.read_only)

    # -- partner portal ------------------------------------------------------------------
    async def create_portal_access(self, app_key: str,
                                   ttl_seconds: int = 3600) -> tuple[str, str]:
        """A short-lived signed link into the partner portal for one application: (url, token)."""
        if not PORTAL_ACCESS_MIN_TTL <= ttl_seconds <= PORTAL_ACCESS_MAX_TTL:
            raise InvalidInput(f"expiry must be between {PORTAL_ACCESS_MIN_TTL} and "
                               f"{PORTAL_ACCESS_MAX_TTL} seconds", field="expiry")
        app = await self.get_app(app_key)
        token = sign_portal_token(self.box.derive(PORTAL_KEY_LABEL), app.id, ttl_seconds,
                                  self.clock())
        return f"{self.settings.base_url}/portal/access?token={token}", token

    # -- endpoint operations -------------------------------------------------------------
    async def rotate_endpoint_secret(self, app_key: str, endpoint_key: str,
                                     key: str | None = None,
                                     grace_seconds: float = DEFAULT_ROTATION_GRACE) -> Endpoint:
        """Sign with a new secret at once; the old one keeps signing beside it for
        `grace_seconds`, so receivers can switch without losing a request."""
        if not 0 <= grace_seconds <= MAX_ROTATION_GRACE:
            raise InvalidInput(f"gracePeriodSeconds must be between 0 and "
                               f"{int(MAX_ROTATION_GRACE)}", field="gracePeriodSeconds")
        ep = await self.get_endpoint(app_key, endpoint_key)
        new_secret = key or generate_secret()
        validate_secret(new_secret, ep.options.signature_scheme)
        now = self.clock()
        keep_old = grace_seconds > 0
        ep = replace(ep, secret=new_secret, updated_at=now,
                     previous_secret=ep.secret if keep_old else None,
                     previous_secret_expires_at=now + grace_seconds if keep_old else None)
        await self.store.update_endpoint(ep)
        return ep

    async def endpoint_stats(self, app_key: str, endpoint_key: str, since: float | None = None,
                             until: float | None = None) -> EndpointHealth:
        """Delivery counts over [since, until] (default: the last 28 days), attempt outcomes
        over the last 24 h and 7 days, and the endpoint's health colour."""
        ep = await self.get_endpoint(app_key, endpoint_key)
        now = self.clock()
        deliveries = await self.store.endpoint_delivery_counts(
            ep.app_id, ep.id, now - DEFAULT_PERIOD if since is None else since,
            now + DAY if until is None else until, now)
        day, week = await self.store.endpoint_attempt_counts(ep.app_id, ep.id,
                                                            [now - DAY, now - WEEK])
        last_24h = WindowCounts(*day)
        return EndpointHealth(
            deliveries=deliveries, last_24h=last_24h, last_7d=WindowCounts(*week),
            last_attempt_at=ep.last_attempt_at, last_success_at=ep.last_success_at,
            consecutive_failures=ep.consecutive_failures, disabled=ep.disabled,
            health=health_colour(ep.disabled, ep.consecutive_failures, last_24h))

    async def endpoint_hourly(self, app_key: str, endpoint_key: str,
                              hours: int = 24) -> list[HourBucket]:
        """Attempts per hour, oldest first, ending with the current hour (for charts)."""
        if not 1 <= hours <= MAX_HOURS:
            raise InvalidInput(f"hours must be between 1 and {MAX_HOURS}", field="hours")
        ep = await self.get_endpoint(app_key, endpoint_key)
        now = self.clock()
        counts = await self.store.endpoint_hourly_counts(
            ep.app_id, ep.id, hour_start(now) - (hours - 1) * HOUR)
        return fill_hours(counts, now, hours)

    async def send_example(self, app_key: str, endpoint_key: str, event_type: str,
                           payload: dict[str, Any] | None = None) -> Attempt:
        """Send the event type's example (or `payload`) to one endpoint now and wait for the
        answer. The attempt is stored as a test: it never retries and never counts against
        the endpoint's health."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        _check_event_type_name(event_type, "eventType")
        if payload is None:
            et = await self.store.find_event_type(event_type)
            if et is None or et.example is None:
                raise InvalidInput(f"event type {event_type!r} has no example; send a payload",
                                   field="eventType")
            payload = et.example
        elif not isinstance(payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        else:
            await self._check_against_catalogue(event_type, payload)
        now = self.clock()
        message = Message(id=ids.new_id(ids.MESSAGE), app_id=endpoint.app_id,
                          event_type=event_type, payload=payload, created_at=now)
        request = prepare_request(message, endpoint, now)
        deadline = request_deadline(endpoint, self.settings.lease_seconds)
        outcome = await self.sender.send(request.url, request.body, request.headers, deadline)
        attempt = Attempt(
            id=ids.new_id(ids.ATTEMPT), delivery_id=ids.new_id(ids.DELIVERY),
            message_id=message.id, endpoint_id=endpoint.id, app_id=endpoint.app_id,
            url=endpoint.url, created_at=now, succeeded=outcome.succeeded,
            trigger=AttemptTrigger.TEST, status_code=outcome.status_code,
            response_body=outcome.body, duration_ms=outcome.duration_ms,
            error_kind=str(outcome.error_kind) if outcome.error_kind else None,
            error_detail=outcome.error_detail, request_headers=request.redacted_headers())
        await self.store.record_test_send(message, attempt)
        return attempt


def _check_uid(uid: str | None) -> None:
    if uid is None:
        return
    if not (1 <= len(uid) <= 256) or not all(c.isalnum() or c in "-_." for c in uid):
        raise InvalidInput("uid must be 1-256 letters, digits, '-', '_' or '.'", field="uid")
    if uid.startswith(("app_", "ep_", "msg_")):
        raise InvalidInput("uid must not look like a Hookline id", field="uid")
    if uid.startswith(RESERVED_UID_PREFIX):
        raise InvalidInput(f"uids starting with {RESERVED_UID_PREFIX!r} are reserved",
                           field="uid")


def _check_event_type_name(name: str, field: str) -> None:
    if not isinstance(name, str) or not re.match(_EVENT_TYPE_NAME, name):
        raise InvalidInput(
            f"{field}: {name!r} is not a valid event type name (letters, digits, '.', '_', "
            "'-'; at most 256)", field=field)


def _check_event_type(et: EventType) -> None:
    _check_event_type_name(et.name, "name")
    if "*" in et.name:
        raise InvalidInput("event type names cannot contain '*'", field="name")
    if et.schema is not None:
        try:
            Draft202012Validator.check_schema(et.schema)
        except SchemaError as exc:
            raise InvalidInput(f"schema is not a valid JSON Schema: {exc.message}",
                               field="schema") from None
        if et.example is not None:
            errors = list(Draft202012Validator(et.schema).iter_errors(et.example))
            if errors:
                raise InvalidInput(f"example does not match the schema: {errors[0].message}",
                                   field="example")
