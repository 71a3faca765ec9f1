"""Request and response bodies, in Svix's field names (camelCase) so Svix SDKs can drive us."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ..config import SIGNATURE_HEADER_STYLES
from ..envelopes import ENVELOPES, JSON_STYLES
from ..models import Application, Attempt, AttemptTrigger, Endpoint, EventType, Message
from ..presets import PRESET_NAMES
from ..retry import MAX_DELAY, MAX_RETRIES, recovers_itself
from ..service import Page
from ..signing import SCHEMES
from ..validation import MAX_TIMEOUT, MAX_URL_LENGTH, check_json, check_text

T = TypeVar("T")
MAX_NAME = 256
MAX_RATE = 1_000_000  # messages per second; stored as a 32-bit integer


# What the server enforces, declared in the OpenAPI document as patterns (JSON Schema and
# Python regex syntax alike). Uids: Svix's pattern; the service also reserves some prefixes.
UID_PATTERN = r"^[a-zA-Z0-9\-_.]{1,256}$"
UID_RULE = "letters, digits, '-', '_', '.'; not starting with app_, ep_, msg_ or __hookline"
EVENT_TYPE_PATTERN = r"^[a-zA-Z0-9\-_.]{1,256}$"
EVENT_FILTER_PATTERN = r"^[a-zA-Z0-9\-_.*]{1,256}$"  # `*` matches a group: `user.*`
# `poller:` makes a polling endpoint: nothing is pushed; its partner pulls its feed.
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\x00-\x20\x7f]+$|^poller:$"
MAX_URL = MAX_URL_LENGTH
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"  # as validation.check_headers
HEADER_VALUE_PATTERN = r"^[^\r\n\x00]*$"
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _rfc3339_text(value: Any) -> Any:
    """A date-time is RFC 3339 text with an offset: no epoch numbers, no naive times."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value.upper()):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. "
                         "2026-01-31T12:00:00Z")
    return datetime.fromisoformat(value.upper())


def _representable(value: datetime) -> datetime:
    try:
        value.timestamp()
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None
    return value


DateTime = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_representable)]


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    @model_validator(mode="after")
    def _storable_text(self) -> Schema:
        """Text fields go to the database as they are: NUL and lone surrogates cannot, nor can
        NaN or Infinity be sent. Free-form JSON such as payloads is stored escaped (a NUL is
        fine there) and checked by the service, which the portal calls too."""
        for name, where in _text_fields(type(self)):
            value = getattr(self, name)
            if value is None or type(value) in _PLAIN or _plain_text(value):
                continue  # the common case, without encoding it as JSON to find out
            check_json(value, where)
            _check_text(value, where)
        return self


_PLAIN = (bool, int, datetime)  # nothing in them to refuse: no text, no NaN

S = TypeVar("S", bound=BaseModel)


def built(model: type[S], **values: Any) -> S:
    """`model.model_construct(**values)` (no validation: for answers built from values already
    checked and stored), a third of its cost when `values` names every field, as the
    hundred answers of a batch publish do: pydantic's loop over the fields, their aliases
    and defaults is most of a construct. The instance is the one `model_construct` makes;
    tests/unit/test_schemas_built.py holds the two to the same JSON."""
    if len(values) != len(model.model_fields) or model.__private_attributes__:
        return model.model_construct(**values)
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_fields_set__", set(values))
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def _plain_text(value: Any) -> bool:
    """ASCII text without NUL (or a list of it): neither check below can refuse it."""
    if isinstance(value, str):
        return value.isascii() and "\x00" not in value
    return isinstance(value, list) and all(isinstance(v, str) and v.isascii()
                                           and "\x00" not in v for v in value)


@cache
def _text_fields(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """The fields `_storable_text` checks, with their wire names; worked out once per model,
    not on every request (free-form `Any` fields are the service's to check, and items left
    unvalidated (`SkipValidation`, a batch's messages) are checked one by one by their own
    model, so that a bad one refuses only itself)."""
    return tuple((name, info.alias or name) for name, info in model.model_fields.items()
                 if "Any" not in str(info.annotation)
                 and "SkipValidation" not in str(info.annotation))


@cache
def _integer_keys(model: type[BaseModel]) -> frozenset[str]:
    """The names and aliases of a model's integer fields (see `_integral_numbers`)."""
    return frozenset(key for name, info in model.model_fields.items()
                     for key in (name, info.alias) if key and _is_integer(info.annotation))


def _check_text(value: Any, where: str) -> None:
    if isinstance(value, str):
        check_text(value, where, max_length=None)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)


def _is_integer(annotation: Any) -> bool:
    return annotation is int or (int in get_args(annotation) and float not in
                                 get_args(annotation))


def _one_of(choices: Iterable[str]) -> dict[str, Any]:
    """Declare the values a service check accepts (the check itself names the field)."""
    return {"enum": [*choices, None]}


class InputSchema(Schema):
    """A request body: exactly the declared fields (`additionalProperties: false`), each of
    its declared JSON type (no `0` for a boolean, no `"5"` for a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """JSON does not tell 5 from 5.0, and JSON Schema's `integer` takes both: an integer
        field takes a float without a fraction (and still refuses `true` and `"5"`)."""
        if not isinstance(data, dict):
            return data
        fields = _integer_keys(cls)
        if not any(type(data.get(key)) is float for key in fields):
            return data  # the common case: nothing to rework
        return {key: int(value) if key in fields and isinstance(value, float)
                and value.is_integer() else value for key, value in data.items()}


EventFilter = Annotated[str, Field(pattern=EVENT_FILTER_PATTERN)]
# A query's event type filter: repeated, or comma-separated as Svix SDKs send it.
EventFilterList = list[Annotated[str, Field(pattern=r"^[a-zA-Z0-9\-_.*,]*$")]]
CustomHeaders = dict[Annotated[str, Field(pattern=HEADER_NAME_PATTERN)],
                     Annotated[str, Field(max_length=4096, pattern=HEADER_VALUE_PATTERN)]]


class ListResponse(Schema, Generic[T]):
    data: list[T]
    iterator: str | None
    prev_iterator: str | None = None
    done: bool

    @classmethod
    def of(cls, page: Page, shown: Callable[[Any], T]) -> ListResponse[T]:
        """One page of a list, each item as `shown` makes it."""
        return cls(data=[shown(item) for item in page.data], iterator=page.iterator,
                   prev_iterator=page.prev_iterator, done=page.done)


# -- applications --------------------------------------------------------------------------
class ApplicationIn(InputSchema):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    uid: str | None = Field(default=None, min_length=1, max_length=256, pattern=UID_PATTERN,
                            description=UID_RULE)
    rate_limit: int | None = Field(default=None, ge=1, le=MAX_RATE)
    throttle_rate: int | None = Field(default=None, ge=1, le=MAX_RATE,
                                      description="Svix SDK v2 name for rateLimit")
    metadata: dict[str, str] = Field(default_factory=dict)
    auto_recover: bool | None = Field(
        default=None, description="Hookline: endpoints disabled by their failure rule are "
                                  "probed and heal themselves (default true)")

    @property
    def rate(self) -> int | None:
        return self.rate_limit if self.rate_limit is not None else self.throttle_rate


class ApplicationPatch(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    uid: str | None = Field(default=None, min_length=1, max_length=256, pattern=UID_PATTERN,
                            description=UID_RULE)
    rate_limit: int | None = Field(default=None, ge=1, le=MAX_RATE)
    throttle_rate: int | None = Field(default=None, ge=1, le=MAX_RATE,
                                      description="Svix SDK v2 name for rateLimit")
    metadata: dict[str, str] | None = None
    auto_recover: bool | None = Field(
        default=None, description="Hookline: endpoints disabled by their failure rule are "
                                  "probed and heal themselves (default true)")

    def changes(self) -> dict[str, Any]:
        """The fields sent; an explicit null clears uid and rate, and leaves name alone."""
        sent = self.model_dump(exclude_unset=True)
        if "throttle_rate" in sent:
            sent.setdefault("rate_limit", sent.pop("throttle_rate"))
        if sent.get("metadata", {}) is None:
            sent["metadata"] = {}
        if sent.get("name", "") is None:
            del sent["name"]
        if "auto_recover" in sent:
            sent["auto_recover"] = sent["auto_recover"] is not False
        return sent


class ApplicationOut(Schema):
    id: str
    uid: str | None
    name: str
    rate_limit: int | None
    throttle_rate: int | None = None
    metadata: dict[str, str]
    auto_recover: bool = True
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, app: Application) -> ApplicationOut:
        return cls(id=app.id, uid=app.uid, name=app.name, rate_limit=app.rate_limit,
                   throttle_rate=app.rate_limit, metadata=app.metadata,
                   auto_recover=app.auto_recover,
                   created_at=ts(app.created_at), updated_at=ts(app.updated_at))


# -- event types ---------------------------------------------------------------------------
class EventTypeUpdate(InputSchema):
    description: str = Field(default="", max_length=4096)
    archived: bool = False
    deprecated: bool = False
    schemas: dict[str, dict[str, Any]] | None = Field(
        default=None, description="Svix shape: JSON Schemas by version, e.g. {\"1\": {...}}")
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    example: dict[str, Any] | None = None
    group_name: str | None = Field(default=None, max_length=256)
    feature_flag: str | None = Field(default=None, max_length=256, pattern=EVENT_TYPE_PATTERN,
                                     description="Svix's older, single featureFlags")
    feature_flags: list[Annotated[str, Field(max_length=256, pattern=EVENT_TYPE_PATTERN)]] | None \
        = Field(default=None, min_length=1, max_length=100,
                description="only portal sessions granted one of these see the event type")

    def to_model(self, name: str) -> EventType:
        """The event type; its example defaults to the schema's first `examples` entry."""
        schema = self.json_schema
        if schema is None and self.schemas:
            schema = self.schemas[max(self.schemas, key=_version_order)]
        example = self.example
        if example is None and schema and isinstance(schema.get("examples"), list):
            first = schema["examples"][0] if schema["examples"] else None
            example = first if isinstance(first, dict) else None
        flags = self.feature_flags
        if flags is None and self.feature_flag is not None:
            flags = [self.feature_flag]
        return EventType(name=name, description=self.description, schema=schema,
                         example=example, deprecated=self.deprecated, archived=self.archived,
                         group_name=self.group_name, feature_flags=flags or None)


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isascii() and version.isdigit() else (-1, version)


class EventTypeReplace(EventTypeUpdate):
    """A full event type, as Svix's create and update take it: a description is required."""

    description: str = Field(max_length=4096)


class EventTypeIn(EventTypeReplace):
    name: str = Field(min_length=1, max_length=256, pattern=EVENT_TYPE_PATTERN)

    def to_model(self, name: str | None = None) -> EventType:
        return super().to_model(self.name if name is None else name)


class EventTypeOut(Schema):
    name: str
    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, dict[str, Any]] | None
    json_schema: dict[str, Any] | None = Field(alias="schema")
    example: dict[str, Any] | None
    group_name: str | None
    feature_flag: str | None = None
    feature_flags: list[str] | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, et: EventType, with_content: bool = True) -> EventTypeOut:
        """`with_content=False` leaves the schema and example out, as Svix's list does."""
        schema = et.schema if with_content else None
        return cls(name=et.name, description=et.description, archived=et.archived,
                   deprecated=et.deprecated, schemas={"1": schema} if schema else None,
                   schema=schema, example=et.example if with_content else None,
                   group_name=et.group_name, feature_flags=et.feature_flags,
                   feature_flag=et.feature_flags[0] if et.feature_flags else None,
                   created_at=ts(et.created_at), updated_at=ts(et.updated_at))


class CatalogueEntryIn(EventTypeIn):
    """An event type as export writes it: its timestamps are accepted and ignored."""

    description: str = Field(default="", max_length=4096)

    created_at: DateTime | None = None
    updated_at: DateTime | None = None


class CatalogueImportIn(InputSchema):
    source: str | None = Field(default=None, max_length=4096,
                               description="where the catalogue comes from; not stored")
    event_types: list[CatalogueEntryIn] = Field(max_length=10_000)


class CatalogueImportOut(Schema):
    created: int
    updated: int
    total: int


class CatalogueOut(Schema):
    event_types: list[EventTypeOut]


# -- endpoints -----------------------------------------------------------------------------
class DeliveryOptionsFields(InputSchema):
    """Hookline's extensions to Svix's endpoint: how requests are built, signed and retried."""

    signature_scheme: str | None = Field(
        default=None, description="standard | hmac-sha256-hex | hmac-sha512-hex",
        json_schema_extra=_one_of(SCHEMES))
    signature_header: str | None = Field(
        default=None, pattern=HEADER_NAME_PATTERN,
        description="header for hex schemes (default x-webhook-signature)")
    envelope: str | None = Field(
        default=None, description="standard | smile | partnero | cr3dentials | raw",
        json_schema_extra=_one_of(ENVELOPES))
    json_style: str | None = Field(default=None, description="compact | php",
                                   json_schema_extra=_one_of(JSON_STYLES))
    retry_schedule: list[float] | None = Field(
        default=None, description="seconds before each retry; the first attempt is immediate",
        json_schema_extra={"maxItems": MAX_RETRIES,
                           "items": {"type": "number", "minimum": 0, "maximum": MAX_DELAY}})
    timeout: float | None = Field(default=None, description="seconds, at most 30",
                                  json_schema_extra={"minimum": 0.1, "maximum": MAX_TIMEOUT})
    disable_after_failures: int | None = Field(default=None, json_schema_extra={"minimum": 1})
    disable_after_seconds: float | None = Field(default=None,
                                                json_schema_extra={"minimum": 1})
    max_concurrency: int | None = Field(default=None,
                                        json_schema_extra={"minimum": 1, "maximum": 1000})
    auto_recover: bool | None = Field(
        default=None, description="probe and heal the endpoint once its failure rule disabled "
                                  "it; null follows the application (docs/recovery.md)")
    probe_schedule: list[float] | None = Field(
        default=None, description="seconds before each probe of a disabled endpoint, the last "
                                  "repeating (default 60, 300, 1800, 7200, 21600)",
        json_schema_extra={"minItems": 1, "maxItems": MAX_RETRIES,
                           "items": {"type": "number", "minimum": 0.1, "maximum": MAX_DELAY}})
    signature_headers: str | None = Field(
        default=None, description="webhook | svix | both: the Standard Webhooks headers' names "
        "(default: HOOKLINE_SIGNATURE_HEADERS)",
        json_schema_extra=_one_of(SIGNATURE_HEADER_STYLES))


class EventTypesAlias(InputSchema):
    """Svix's SDK v2 calls the event type filter `eventTypes`; both names are accepted."""

    event_types: list[EventFilter] | None = Field(
        default=None, max_length=1000, description="Svix SDK v2 name for filterTypes")
    throttle_rate: int | None = Field(default=None, ge=1, le=MAX_RATE,
                                      description="Svix SDK v2 name for rateLimit")

    def wanted_types(self) -> list[str] | None:
        chosen: list[str] | None = getattr(self, "filter_types", None)
        return chosen if chosen is not None else self.event_types


class EndpointFields(DeliveryOptionsFields, EventTypesAlias):
    """What an endpoint's creation and its full replacement (PUT) both carry."""

    url: str = Field(min_length=1, max_length=MAX_URL, pattern=URL_PATTERN)
    description: str = Field(default="", max_length=4096)
    filter_types: list[EventFilter] | None = Field(default=None, max_length=1000)
    channels: list[str] | None = Field(default=None, max_length=10)
    disabled: bool = False
    uid: str | None = Field(default=None, min_length=1, max_length=256, pattern=UID_PATTERN,
                            description=UID_RULE)
    version: int | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=MAX_RATE)
    metadata: dict[str, str] = Field(default_factory=dict)


class PresetField(InputSchema):
    preset: str | None = Field(
        default=None, description="the whole delivery contract of one specification ("
        + " | ".join(PRESET_NAMES) + "); fields sent beside it override it",
        json_schema_extra=_one_of(PRESET_NAMES))


class EndpointIn(EndpointFields, PresetField):
    secret: str | None = Field(default=None, max_length=1024)
    headers: CustomHeaders | None = None


class EndpointUpdate(EndpointFields):
    pass


class EndpointPatch(DeliveryOptionsFields, EventTypesAlias):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL, pattern=URL_PATTERN)
    description: str | None = Field(default=None, max_length=4096)
    filter_types: list[EventFilter] | None = Field(default=None, max_length=1000)
    channels: list[str] | None = Field(default=None, max_length=10)
    disabled: bool | None = None
    uid: str | None = Field(default=None, min_length=1, max_length=256, pattern=UID_PATTERN,
                            description=UID_RULE)
    rate_limit: int | None = Field(default=None, ge=1, le=MAX_RATE)
    metadata: dict[str, str] | None = None


class EndpointOut(Schema):
    id: str
    url: str
    description: str
    filter_types: list[str] | None
    event_types: list[str] | None = None
    channels: list[str] | None
    disabled: bool
    disabled_reason: str | None
    uid: str | None
    version: int = 1
    rate_limit: int | None = None
    throttle_rate: int | None = None
    metadata: dict[str, str]
    signature_scheme: str
    signature_header: str | None
    envelope: str
    json_style: str | None
    retry_schedule: list[float] | None
    timeout: float
    disable_after_failures: int | None
    disable_after_seconds: float | None
    max_concurrency: int | None
    auto_recover: bool | None = None
    probe_schedule: list[float] | None = None
    disabled_by: str | None = Field(default=None, description="rule | manual")
    next_probe_at: datetime | None = Field(
        default=None, description="when a disabled endpoint is probed next")
    waiting_count: int | None = Field(
        default=None, description="messages a disabled endpoint missed (on GET of one)")
    signature_headers: str = "webhook"
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ep: Endpoint, waiting: int | None = None,
           app: Application | None = None) -> EndpointOut:
        """With `app`, no next probe for an endpoint that does not heal itself (it is only
        looked at again, in case its autoRecover is turned on)."""
        o = ep.options
        probed = app is None or recovers_itself(ep, app)
        return cls(id=ep.id, url=ep.url, description=ep.description,
                   filter_types=ep.filter_types, event_types=ep.filter_types,
                   channels=ep.channels, disabled=ep.disabled,
                   disabled_reason=ep.disabled_reason, uid=ep.uid, metadata=ep.metadata,
                   signature_scheme=o.signature_scheme, signature_header=o.signature_header,
                   envelope=o.envelope, json_style=o.json_style,
                   retry_schedule=o.retry_schedule, timeout=o.timeout,
                   disable_after_failures=o.disable_after_failures,
                   disable_after_seconds=o.disable_after_seconds,
                   max_concurrency=o.max_concurrency, signature_headers=o.signature_headers,
                   rate_limit=o.rate_limit, throttle_rate=o.rate_limit,
                   auto_recover=o.auto_recover,
                   probe_schedule=o.probe_schedule,
                   disabled_by=str(ep.disabled_by) if ep.disabled_by else None,
                   next_probe_at=ts(ep.next_probe_at) if ep.next_probe_at and probed else None,
                   waiting_count=waiting,
                   created_at=ts(ep.created_at), updated_at=ts(ep.updated_at))


class EndpointSecretOut(Schema):
    key: str


# -- messages and attempts ------------------------------------------------------------------
class MessageIn(InputSchema):
    event_type: str = Field(min_length=1, max_length=256, pattern=EVENT_FILTER_PATTERN)
    payload: dict[str, Any]
    event_id: str | None = Field(default=None, min_length=1, max_length=256)
    channels: list[str] | None = Field(default=None, min_length=1, max_length=10)
    tags: list[str] | None = Field(default=None, description="filter messages and attempts by "
                                   "these (`tag`)")
    payload_retention_period: int | None = Field(
        default=None, ge=1, description="days the payload is kept, if less than the default")
    ordering_key: str | None = Field(
        default=None, min_length=1, max_length=256,
        description="Hookline extension: messages sharing this key (e.g. an object's id) reach "
                    "each endpoint in publish order; a later one waits while an earlier one is "
                    "pending or retrying")
    application: ApplicationIn | None = Field(
        default=None, description="creates the application named in the path if it is "
                                  "missing (its uid defaults to the path's); else ignored")
    deliver_at: DateTime | None = Field(default=None,
                                        description="nothing is sent before this time")
    payload_retention_hours: int | None = Field(
        default=None, ge=1, description="hours the payload is kept, if less than the default")
    # Sent by Svix SDKs; accepted so that they work, not acted upon.
    transformations_params: dict[str, Any] | None = Field(default=None,
                                                          description="Svix: ignored")


class MessageOut(Schema):
    id: str
    event_type: str
    payload: dict[str, Any]
    event_id: str | None
    channels: list[str] | None
    tags: list[str] | None = None
    timestamp: datetime
    deliver_at: datetime | None = None
    ordering_key: str | None = None
    expunged: bool = Field(default=False, description="Hookline: the content was erased "
                           "(retention or expunge); the payload reads {}")

    @classmethod
    def of(cls, m: Message, with_content: bool = True) -> MessageOut:
        """`with_content=False` leaves the payload out (`{}`), as Svix does when asked.
        Built without validation: every value comes from a message already checked and
        stored, and a batch answer builds a hundred of them."""
        return built(cls, id=m.id, event_type=m.event_type,
                     payload=m.payload if with_content and not m.expunged else {},
                     event_id=m.event_id, channels=m.channels, tags=m.tags,
                     timestamp=ts(m.created_at),
                     deliver_at=ts(m.deliver_at) if m.deliver_at is not None else None,
                     ordering_key=m.ordering_key, expunged=m.expunged)


STATUS_SUCCESS, STATUS_PENDING, STATUS_FAIL, STATUS_SENDING = 0, 1, 2, 3
STATUS_TEXT = {STATUS_SUCCESS: "success", STATUS_PENDING: "pending", STATUS_FAIL: "fail",
               STATUS_SENDING: "sending"}


class MessageAttemptOut(Schema):
    id: str
    url: str
    msg_id: str
    endpoint_id: str
    response: str
    response_status_code: int
    response_duration_ms: int
    status: int = Field(description="0 success, 1 pending, 2 failed, 3 sending (Svix)")
    status_text: str = Field(description="success | pending | fail | sending")
    trigger_type: int = Field(description="0 scheduled, 1 manual (Svix)")
    timestamp: datetime
    attempt_number: int
    error_kind: str | None
    error_detail: str | None
    test: bool = False
    expunged: bool = Field(default=False, description="Hookline: the response body and "
                           "request headers were erased (retention or expunge)")
    msg: MessageOut | None = Field(default=None, description="with `with_msg=true` (Svix)")

    @classmethod
    def of(cls, a: Attempt, with_content: bool = True) -> MessageAttemptOut:
        status = STATUS_SENDING if a.sending else STATUS_SUCCESS if a.succeeded else STATUS_FAIL
        return cls(id=a.id, url=a.url, msg_id=a.message_id, endpoint_id=a.endpoint_id,
                   response=a.response_body if with_content else "",
                   response_status_code=a.status_code or 0,
                   response_duration_ms=a.duration_ms, status=status,
                   status_text=STATUS_TEXT[status],
                   trigger_type=0 if a.trigger == AttemptTrigger.SCHEDULED else 1,
                   timestamp=ts(a.created_at), attempt_number=a.attempt_number,
                   error_kind=a.error_kind, error_detail=a.error_detail,
                   test=a.trigger == AttemptTrigger.TEST, expunged=a.expunged)


class RecoverIn(InputSchema):
    since: DateTime
    until: DateTime | None = Field(default=None, description="not before `since`")


class RecoverOut(Schema):
    """Svix's background task shape; recovery runs at once, so it is always finished."""

    id: str
    status: str = "finished"
    task: str = "endpoint.recover"
    updated_at: datetime
    recovered: int = 0


class EmptyOut(Schema):
    """An empty JSON object, for actions with nothing to say (Svix SDKs parse a body)."""
