"""Hookline's domain types, in Svix's vocabulary. Plain data: no I/O, no framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AttemptTrigger(enum.StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    TEST = "test"
    # A delivery to an endpoint its failure rule disabled, to see whether it is back.
    PROBE = "probe"


class DisabledBy(enum.StrEnum):
    """Who disabled an endpoint: its failure rule (it is probed and heals itself) or a person
    (it stays dark until a person enables it)."""

    RULE = "rule"
    MANUAL = "manual"


# The url of a polling endpoint: nothing is pushed to it; its partner pulls its feed.
POLLER_URL = "poller:"


class ErrorKind(enum.StrEnum):
    """Why an attempt failed, when it was not an HTTP answer from the receiver."""

    HTTP_STATUS = "http_status"
    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    BLOCKED = "blocked"
    INVALID_RESPONSE = "invalid_response"
    INTERNAL = "internal"
    WORKER_LOST = "worker_lost"


@dataclass
class Application:
    id: str
    name: str
    uid: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    rate_limit: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    # Whether its endpoints disabled by their failure rule are probed and heal themselves
    # (an endpoint's own `auto_recover` option, when set, wins).
    auto_recover: bool = True


@dataclass
class EventType:
    name: str
    description: str = ""
    schema: JSON | None = None
    example: JSON | None = None
    deprecated: bool = False
    archived: bool = False
    group_name: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    # Svix's featureFlags: only portal sessions granted one of them see this event type.
    feature_flags: list[str] | None = None

    def visible_with(self, granted: list[str] | None) -> bool:
        """Whether a portal session granted these feature flags sees this event type: one
        without flags shows to everyone, one with flags to sessions granted one of them."""
        return not self.feature_flags or bool(set(self.feature_flags) & set(granted or ()))


@dataclass
class DeliveryOptions:
    """How one endpoint wants its requests built, signed, timed and retried."""

    signature_scheme: str = "standard"
    signature_header: str | None = None
    envelope: str = "standard"
    json_style: str | None = None
    retry_schedule: list[float] | None = None
    timeout: float = 10.0
    disable_after_failures: int | None = None
    disable_after_seconds: float | None = 5 * 24 * 3600.0
    max_concurrency: int | None = None
    # Self-healing (docs/recovery.md): None follows the application; the probe schedule is
    # the delays between probes, the last repeating (None: retry.DEFAULT_PROBE_SCHEDULE).
    auto_recover: bool | None = None
    probe_schedule: list[float] | None = None
    # Svix's names for the Standard Webhooks headers: webhook-*, svix-* or both sets.
    signature_headers: str = "webhook"
    # Svix's rateLimit (messages per second): stored and returned; see the fairness work.
    rate_limit: int | None = None

    def to_json(self) -> JSON:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: JSON | None) -> DeliveryOptions:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Endpoint:
    id: str
    app_id: str
    url: str
    secret: str
    uid: str | None = None
    description: str = ""
    filter_types: list[str] | None = None
    channels: list[str] | None = None
    disabled: bool = False
    disabled_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    previous_secret: str | None = None
    previous_secret_expires_at: float | None = None
    consecutive_failures: int = 0
    failing_since: float | None = None
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    disabled_by: DisabledBy | None = None
    missed_since: float | None = None  # the first message it missed is not older than this
    next_probe_at: float | None = None
    probes_made: int = 0

    @property
    def is_poller(self) -> bool:
        return self.url == POLLER_URL

    def signing_secrets(self, now: float) -> list[str]:
        """The current secret, plus the previous one while its rotation grace period lasts."""
        secrets = [self.secret]
        if self.previous_secret and (self.previous_secret_expires_at or 0) > now:
            secrets.append(self.previous_secret)
        return secrets


@dataclass
class Message:
    id: str
    app_id: str
    event_type: str
    payload: JSON
    event_id: str | None = None
    channels: list[str] | None = None
    created_at: float = 0.0
    # Messages sharing an ordering key (an object's id) reach each endpoint in publish order.
    ordering_key: str | None = None
    # Its content was erased (by the retention clock or on request): the payload reads `{}`.
    expunged: bool = False
    tags: list[str] | None = None
    # Svix's deliverAt: nothing is sent before this time (epoch seconds).
    deliver_at: float | None = None
    # The W3C trace context of its publish span (tracing on): its attempts continue it.
    traceparent: str | None = None


@dataclass
class Attempt:
    id: str
    delivery_id: str
    message_id: str
    endpoint_id: str
    app_id: str
    url: str
    created_at: float
    succeeded: bool
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED
    status_code: int | None = None
    response_body: str = ""
    duration_ms: int = 0
    error_kind: str | None = None
    error_detail: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    attempt_number: int = 1
    worker: str | None = None
    sending: bool = False
    # Its request headers and response body were erased (retention or on request).
    expunged: bool = False


@dataclass
class DeliveryState:
    """Where one message stands with one endpoint (Svix's status of an attempted message):
    `success`, `pending`, `fail` or `sending`, and when it is next tried if pending."""

    status: str
    next_attempt_at: float | None = None


class TaskStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass
class BackgroundTask:
    """A long job the API answers for at once (202) and reports on later, as Svix does.

    `kind` is Svix's task type (`endpoint.replay`, `application.stats`, ...); `data` is what
    the job reported: its result once finished, `{"error": ...}` if it failed."""

    id: str
    kind: str
    status: TaskStatus = TaskStatus.RUNNING
    data: JSON = field(default_factory=dict)
    app_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
