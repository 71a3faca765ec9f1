"""Settings, read once at start from the environment and CLI flags, then passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .envelopes import ENVELOPES
from .errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./hookline.db"
# Which names the Standard Webhooks headers go by: webhook-id..., svix-id..., or both sets.
SIGNATURE_HEADER_STYLES = ("webhook", "svix", "both")
# OpenTelemetry's own name for where spans go, read as HOOKLINE_OTEL_ENDPOINT is.
OTEL_ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
COMPAT_DEFAULTS = {"svix": {"envelope": "raw", "signature_headers": "svix"}}


@dataclass(frozen=True)
class Settings:
    """Everything an operator may change. Field names map to `HOOKLINE_<NAME>` variables."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    admin_token: str | None = None
    data_dir: Path = Path(".")
    secret_key: str | None = None
    production: bool = False
    egress_allow: tuple[str, ...] = ()
    proxy_url: str | None = None
    strict_event_types: bool = False
    # Concurrent single publishes share one store write (service/group_commit.py).
    group_commit: bool = True
    max_payload_bytes: int = 1024 * 1024
    # Inbound HTTP: a request's line and headers, in bytes and fields (431 beyond), and the
    # seconds a client has to finish sending them (408 and closed beyond; slowloris).
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100
    header_timeout: float = 5.0
    # Delivery worker
    worker_concurrency: int = 256
    claim_batch_size: int = 128
    endpoint_concurrency: int = 32
    # `hookline serve`: delivery worker processes beside the API (0: the worker runs in the
    # API's process); unset, chosen from the database and the cores (worker_processes.py).
    worker_processes: int | None = None
    # `hookline serve`: processes serving the API on one shared socket (at least 1); unset,
    # chosen from the database and the cores (worker_processes.py).
    api_processes: int | None = None
    poll_interval: float = 1.0
    # A claimed delivery is hidden from other workers this long; requests are cut at 80 % of
    # it, so a lease always outlasts the request it covers (Svix #2181).
    lease_seconds: float = 60.0
    shutdown_grace: float = 10.0
    max_response_bytes: int = 4096
    # History and retention (docs/retention.md): messages, deliveries and attempts live
    # `retention_days`; payloads, request headers and response bodies `payload_retention_days`
    # (a message may ask for less). Workers purge every `purge_interval` seconds, in batches
    # of `purge_batch_size` messages.
    retention_days: float = 90.0
    payload_retention_days: float = 30.0
    purge_interval: float = 60.0
    purge_batch_size: int = 500
    # PostgreSQL with autovacuum off: the purger vacuums the tables autovacuum would have.
    purge_vacuum: bool = True
    # Self-healing endpoints (docs/recovery.md): seconds between the prober's looks for
    # probes that are due (the probe schedule itself is an endpoint option).
    probe_interval: float = 5.0
    log_level: str = "info"
    # Svix drop-in (issue #17): what endpoints created without choosing get. `compat=svix`
    # sets both to what Svix sends (the payload unwrapped, svix-* headers); an explicit
    # default_envelope or signature_headers wins over it, and endpoints may still choose.
    compat: str | None = None
    default_envelope: str | None = None
    signature_headers: str | None = None
    # Transactional outbox (docs/outbox.md): application databases whose `hookline_outbox`
    # tables the delivery workers of `serve`/`worker` relay into this Hookline, and how often
    # a relay looks when no NOTIFY woke it (SQLite sources: always).
    outbox_sources: tuple[str, ...] = ()
    outbox_poll_interval: float = 1.0
    # Operations (metrics, health, logs): the application id as a metrics label (cardinality:
    # one series per application), the multiprocess metrics directory (unset: a fresh one
    # when `serve` starts worker processes), worker heartbeats and when a worker's loop
    # counts as stalled, JSON logs, the access log.
    metrics_app_labels: bool = False
    metrics_dir: Path | None = None
    heartbeat_interval: float = 5.0
    worker_stall_seconds: float = 60.0
    log_format: str = "text"
    access_log: bool = False
    # Tracing (docs/operations.md): the OTLP/HTTP collector spans go to; unset, tracing is
    # off. The standard `OTEL_EXPORTER_OTLP_ENDPOINT` sets it too.
    otel_endpoint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.compat not in (None, *COMPAT_DEFAULTS):
            raise ConfigError(f"HOOKLINE_COMPAT={self.compat!r}: the only choice is 'svix'")
        if self.default_envelope is not None and self.default_envelope not in ENVELOPES:
            raise ConfigError(f"HOOKLINE_DEFAULT_ENVELOPE={self.default_envelope!r}: choose "
                              f"{', '.join(ENVELOPES)}")
        if self.signature_headers not in (None, *SIGNATURE_HEADER_STYLES):
            raise ConfigError(f"HOOKLINE_SIGNATURE_HEADERS={self.signature_headers!r}: choose "
                              f"{', '.join(SIGNATURE_HEADER_STYLES)}")

    @property
    def envelope_for_new_endpoints(self) -> str:
        compat = COMPAT_DEFAULTS.get(self.compat or "", {})
        return self.default_envelope or compat.get("envelope", "standard")

    @property
    def signature_headers_for_new_endpoints(self) -> str:
        compat = COMPAT_DEFAULTS.get(self.compat or "", {})
        return self.signature_headers or compat.get("signature_headers", "webhook")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Build settings from `HOOKLINE_*` variables, then apply explicit overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("HOOKLINE_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, f.type, raw)
        if "otel_endpoint" not in values and env.get(OTEL_ENDPOINT_VARIABLE):
            values["otel_endpoint"] = env[OTEL_ENDPOINT_VARIABLE]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("egress_allow"), str):
            values["egress_allow"] = _split(values["egress_allow"])
        for name in ("data_dir", "metrics_dir"):
            if isinstance(values.get(name), str):
                values[name] = Path(values[name])
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("tuple"):
            return _split(raw)
        if kind.startswith("Path"):
            return Path(raw)
    except ValueError:
        raise ConfigError(f"HOOKLINE_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
