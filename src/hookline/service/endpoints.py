"""Endpoints: configuration, secret rotation, statistics and test sends."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import ids
from ..delivery.transport import send_message
from ..errors import InvalidInput
from ..models import Attempt, AttemptTrigger, DeliveryOptions, DisabledBy, Endpoint, Message
from ..presets import preset_options
from ..signing import generate_secret, validate_secret
from ..stats import (
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
from ..store.base import Page
from ..validation import check_headers, check_json, check_options, check_text, check_url
from .core import (
    DEFAULT_ROTATION_GRACE,
    MAX_ROTATION_GRACE,
    AppKey,
    ServiceCore,
    check_event_type_name,
    check_uid,
    clamp_limit,
    window_of,
)
from .operational import ENABLED_BY_HAND, ENDPOINT_CREATED, ENDPOINT_DELETED, ENDPOINT_UPDATED

MAX_FILTER_TYPES = 1000


class EndpointUseCases(ServiceCore):
    """Endpoints and what can be done to one."""

    # -- endpoints -----------------------------------------------------------------------
    def _checked_endpoint(self, ep: Endpoint) -> Endpoint:
        if not ep.is_poller:
            check_url(ep.url, self.policy, production=self.settings.production)
        check_text(ep.description, "description")
        for key, value in ep.metadata.items():
            check_text(key, "metadata", max_length=None)
            check_text(value, "metadata", max_length=None)
        for channel in ep.channels or []:
            check_text(channel, "channels", max_length=None)
        check_options(ep.options)
        ep.headers = check_headers(ep.headers, ep.options)
        validate_secret(ep.secret, ep.options.signature_scheme)
        check_uid(ep.uid)
        if ep.filter_types is not None:
            if len(ep.filter_types) == 0:
                raise InvalidInput("filterTypes must not be empty; use null for all events",
                                   field="filterTypes")
            if len(ep.filter_types) > MAX_FILTER_TYPES:
                raise InvalidInput(f"filterTypes holds at most {MAX_FILTER_TYPES} names",
                                   field="filterTypes")
            for name in ep.filter_types:
                check_event_type_name(name, "filterTypes")
        if ep.channels is not None and len(ep.channels) == 0:
            raise InvalidInput("channels must not be empty; use null for all channels",
                               field="channels")
        return ep

    def new_endpoint_options(self, preset: str | None = None) -> DeliveryOptions:
        """What an endpoint gets for the options its creator does not choose: a preset's whole
        contract when one is named, else the defaults with the envelope and signature header
        names of the settings (HOOKLINE_COMPAT)."""
        if preset is not None:
            return preset_options(preset)
        return DeliveryOptions(
            envelope=self.settings.envelope_for_new_endpoints,
            signature_headers=self.settings.signature_headers_for_new_endpoints)

    async def create_endpoint(
        self,
        app_key: AppKey,
        *,
        url: str,
        secret: str | None = None,
        options: DeliveryOptions | None = None,
        **fields: Any,
    ) -> Endpoint:
        app = await self.get_app(app_key)
        now = self.clock()
        ep = Endpoint(id=ids.new_id(ids.ENDPOINT), app_id=app.id, url=url,
                      secret=secret or generate_secret(),
                      options=options or self.new_endpoint_options(),
                      created_at=now, updated_at=now, **fields)
        await self.store.insert_endpoint(self._checked_endpoint(ep))
        await self.operational.endpoint_changed(ENDPOINT_CREATED, ep)
        return ep

    async def list_endpoints(self, app_key: AppKey, limit: int | None,
                             iterator: str | None, order: str | None = None) -> Page:
        app = await self.get_app(app_key)
        window = window_of(iterator, order, ascending_by_default=True, prefix=ids.ENDPOINT)
        return await self.store.list_endpoints(app.id, clamp_limit(limit), window)

    async def update_endpoint(self, app_key: AppKey, key: str, **changes: Any) -> Endpoint:
        """Change an endpoint. Re-enabling clears its failure streak and wakes its pending
        deliveries, which were kept while it was disabled."""
        ep = await self.get_endpoint(app_key, key)
        was_disabled = ep.disabled
        ep = replace(ep, **changes, updated_at=self.clock())
        if "disabled" in changes and not ep.disabled:
            ep.disabled_reason = None
            ep.disabled_by = None
        elif ep.disabled and not was_disabled:
            ep.disabled_by = DisabledBy.MANUAL  # never probed (service/recovery.py)
            if "disabled_reason" not in changes:
                ep.disabled_reason = "disabled manually"
        await self.store.update_endpoint(self._checked_endpoint(ep))
        if was_disabled and not ep.disabled:
            self.on_due()
            await self.operational.endpoint_enabled(ep, ENABLED_BY_HAND)
        await self.operational.endpoint_changed(ENDPOINT_UPDATED, ep)
        if ep.disabled and not was_disabled:
            await self.operational.endpoint_disabled(ep, "manual")
        return ep

    async def delete_endpoint(self, app_key: AppKey, key: str) -> Endpoint:
        ep = await self.get_endpoint(app_key, key)
        await self.store.delete_endpoint(ep.app_id, ep.id)
        await self.operational.endpoint_changed(ENDPOINT_DELETED, ep)
        return ep

    # -- endpoint operations -------------------------------------------------------------
    async def rotate_endpoint_secret(self, app_key: AppKey, endpoint_key: str,
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

    async def endpoint_stats(self, app_key: AppKey, endpoint_key: str,
                             since: float | None = None,
                             until: float | None = None) -> EndpointHealth:
        """Delivery counts over [since, until] (default: the last 28 days), attempt outcomes
        over the last 24 h and 7 days, and the endpoint's health colour."""
        if since is not None and until is not None and until < since:
            raise InvalidInput("until must not be before since", field="until")
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

    async def endpoint_hourly(self, app_key: AppKey, endpoint_key: str,
                              hours: int = 24) -> list[HourBucket]:
        """Attempts per hour, oldest first, ending with the current hour (for charts)."""
        if not 1 <= hours <= MAX_HOURS:
            raise InvalidInput(f"hours must be between 1 and {MAX_HOURS}", field="hours")
        ep = await self.get_endpoint(app_key, endpoint_key)
        now = self.clock()
        counts = await self.store.endpoint_hourly_counts(
            ep.app_id, ep.id, hour_start(now) - (hours - 1) * HOUR)
        return fill_hours(counts, now, hours)

    async def send_example(self, app_key: AppKey, endpoint_key: str, event_type: str,
                           payload: dict[str, Any] | None = None) -> Attempt:
        """Send the event type's example (or `payload`) to one endpoint now and wait for the
        answer. The attempt is stored as a test: it never retries and never counts against
        the endpoint's health."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        check_event_type_name(event_type, "eventType")
        if payload is None:
            et = await self.store.find_event_type(event_type)
            if et is None or et.example is None:
                raise InvalidInput(f"event type {event_type!r} has no example; send a payload",
                                   field="eventType")
            payload = et.example
        elif not isinstance(payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        else:
            check_json(payload, "payload")
            await self._check_against_catalogue(event_type, payload)
        now = self.clock()
        message = Message(id=ids.new_id(ids.MESSAGE), app_id=endpoint.app_id,
                          event_type=event_type, payload=payload, created_at=now)
        sent = await send_message(self.transport, message, endpoint, now,
                                  self.settings.lease_seconds)
        attempt = sent.outcome.as_attempt(
            attempt_id=ids.new_id(ids.ATTEMPT), delivery_id=ids.new_id(ids.DELIVERY),
            message=message, endpoint=endpoint, started=now, trigger=AttemptTrigger.TEST,
            request_headers=sent.request_headers)
        await self.store.record_test_send(message, attempt)
        return attempt
