"""What every use-case module shares: the service's state, fan-out rules, input checks."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .. import ids
from ..config import Settings
from ..delivery.egress import EgressPolicy
from ..delivery.transport import Transport
from ..errors import InvalidInput, NotFound
from ..models import Application, Endpoint, EventType, Message
from ..secretbox import SecretBox
from ..store.base import Store, Subscription, Window
from ..tracing import Tracing
from ..validation import check_json, check_text
from .config_cache import ConfigCache
from .operational import RESERVED_UID_PREFIX, OperationalEvents

ALL_EVENTS = "ALL_EVENTS"
ADMIN_TOKEN_KEY = "admin_token_sha256"
MAX_LIMIT = 250
_EVENT_TYPE_NAME = r"^[A-Za-z0-9_.\-*]{1,256}$"
DEFAULT_ROTATION_GRACE = 24 * 3600.0
MAX_ROTATION_GRACE = 7 * 24 * 3600.0
ORDERS = ("ascending", "descending")


# How a use case names an application: an id or uid from a caller, which never finds the
# internal operational application, or the `Application` itself, which only the operational
# code holds for its own application.
AppKey = str | Application


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


def window_of(iterator: str | None, order: str | None, *, ascending_by_default: bool,
              prefix: str | None = None, is_key: Callable[[str], bool] = bool) -> Window:
    """Svix's `iterator` (a key, or `-` and a key for the page before) and `order`, checked:
    an iterator that is not one this list hands out, or an unknown order, is a 422."""
    if order is not None and order not in ORDERS:
        raise InvalidInput("order must be 'ascending' or 'descending'", field="order")
    ascending = ascending_by_default if order is None else order == "ascending"
    if iterator is None:
        return Window(None, ascending)
    backwards = iterator.startswith("-")
    bound = iterator[1:] if backwards else iterator
    if not is_key(bound) or (prefix is not None and not ids.has_prefix(bound, prefix)):
        raise InvalidInput("iterator is not one this list returned", field="iterator")
    return Window(bound, ascending, backwards)


class ServiceCore:
    """The store, settings and collaborators every use case needs; `Service` sets them."""

    store: Store
    settings: Settings
    box: SecretBox
    transport: Transport
    policy: EgressPolicy
    on_due: Callable[[], None]
    clock: Callable[[], float]
    operational: OperationalEvents
    config: ConfigCache
    tracing: Tracing

    # -- lookups every use case needs --------------------------------------------------
    async def get_app(self, key: AppKey) -> Application:
        """The one application lookup of every use case. By id or uid, the internal
        operational application does not exist; its own code passes it in (see `AppKey`)."""
        if isinstance(key, Application):
            return key
        app = await self.config.app(key)
        if self.operational.is_internal(app):
            raise NotFound(f"application {key!r} not found")
        return app

    async def start_request(self, *, optimistic: bool = False) -> None:
        """Called as an API request starts: its lookups share one configuration version
        (`optimistic`: see `ConfigCache.start_request`)."""
        await self.config.start_request(optimistic=optimistic)

    async def configuration_moved(self) -> bool:
        """After an optimistic start: whether what this request was checked against changed
        (see `ConfigCache.assumption_failed`)."""
        return await self.config.assumption_failed()

    async def get_endpoint(self, app_key: AppKey, key: str) -> Endpoint:
        app = await self.get_app(app_key)
        return await self.store.get_endpoint(app.id, key)

    async def ping(self) -> None:
        """Whether the database answers (StoreUnavailable if not): the health check."""
        await self.store.ping()

    async def _check_against_catalogue(self, event_type: str, payload: dict[str, Any]) -> None:
        entry = await self.config.catalogue_entry(event_type)
        if entry.event_type is None:
            if self.settings.strict_event_types:
                raise InvalidInput(f"unknown event type {event_type!r}", field="eventType")
            return
        if entry.validator is not None:
            validator = entry.validator
            error = next(iter(sorted(validator.iter_errors(payload), key=lambda e: e.path)),
                         None)
            if error is not None:
                path = "payload" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                                           for p in error.absolute_path)
                raise InvalidInput(f"{path}: {error.message}", field=path)


def check_uid(uid: str | None) -> None:
    if uid is None:
        return
    if not (1 <= len(uid) <= 256) or not all((c.isascii() and c.isalnum()) or c in "-_."
                                             for c in uid):
        raise InvalidInput("uid must be 1-256 letters, digits, '-', '_' or '.'", field="uid")
    if uid.startswith(("app_", "ep_", "msg_")):
        raise InvalidInput("uid must not look like a Hookline id", field="uid")
    if uid.startswith(RESERVED_UID_PREFIX):
        raise InvalidInput(f"uids starting with {RESERVED_UID_PREFIX!r} are reserved",
                           field="uid")


def is_event_type_name(name: str) -> bool:
    return isinstance(name, str) and re.match(_EVENT_TYPE_NAME, name) is not None


def check_event_type_name(name: str, field: str) -> None:
    if not isinstance(name, str) or not re.match(_EVENT_TYPE_NAME, name):
        raise InvalidInput(
            f"{field}: {name!r} is not a valid event type name (letters, digits, '.', '_', "
            "'-'; at most 256)", field=field)


def check_event_type(et: EventType) -> None:
    check_event_type_name(et.name, "name")
    check_text(et.description, "description")
    if et.group_name is not None:
        check_text(et.group_name, "groupName", 256)
    check_json(et.schema, "schema")
    check_json(et.example, "example")
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
