"""Prometheus metrics: what Hookline counts, and the small functions the rest of it calls.

One process keeps its metrics in this module's registry. When `hookline serve` runs worker
processes beside the API, every process writes its values to files in one directory
(prometheus_client's multiprocess mode, `configure(..., directory=...)`) and the process that
answers `/metrics` adds them up. Gauges read from the database (queue depth, endpoints by
state) are set by the scraping process just before it renders (`set_queue_depth`,
`set_endpoints`), so every process agrees on them.

No label names an endpoint or a message (cardinality); the application id is a label of the
published and attempt counters only with `HOOKLINE_METRICS_APP_LABELS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

# Publish -> first attempt: from a few milliseconds (a worker waiting) to hours (a backlog).
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
               300.0, 1800.0, 3600.0)
# A request's duration: bounded by the endpoint's timeout (at most 80 % of the lease).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
                    60.0)
# Single publishes per group write: 1 alone, up to the batch limit (100).
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 100)
QUEUE_STATES = ("due", "scheduled", "leased")
ENDPOINT_STATES = ("enabled", "disabled", "circuit_open")
# prometheus_client's multiprocess values find their directory in this variable.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NO_APP = ""


class _Instruments:
    """Every metric, built for one mode (one process or many; with or without app labels)."""

    def __init__(self, registry: CollectorRegistry | None, app_labels: bool) -> None:
        app = ["app"] if app_labels else []
        self.app_labels = app_labels
        self.published = Counter(
            "hookline_messages_published", "Messages stored by a publish.", app,
            registry=registry)
        self.publish_groups = Histogram(
            "hookline_publish_group_size", "Single publishes per store write: above 1 when "
            "group commit made one write of concurrent publishes.", buckets=GROUP_BUCKETS,
            registry=registry)
        self.attempts = Counter(
            "hookline_attempts", "Delivery attempts recorded, by what became of the delivery "
            "(succeeded, retrying, failed) and why the attempt failed (none when it did not).",
            [*app, "outcome", "error_kind"], registry=registry)
        self.lag = Histogram(
            "hookline_delivery_lag_seconds", "Seconds from a message's publish to its first "
            "scheduled attempt.", buckets=LAG_BUCKETS, registry=registry)
        self.duration = Histogram(
            "hookline_attempt_duration_seconds", "Seconds an attempt's request took.",
            buckets=DURATION_BUCKETS, registry=registry)
        self.queue_depth = Gauge(
            "hookline_queue_depth", "Pending deliveries: due now, scheduled for a retry, "
            "leased by a worker.", ["state"], registry=registry,
            multiprocess_mode="mostrecent")
        self.endpoints = Gauge(
            "hookline_endpoints", "Endpoints by state (circuit_open: paused after failures).",
            ["state"], registry=registry, multiprocess_mode="mostrecent")
        self.in_flight = Gauge(
            "hookline_worker_in_flight", "Requests being sent by workers.",
            registry=registry, multiprocess_mode="livesum")
        self.store_errors = Counter(
            "hookline_store_errors", "Database operations that failed (unreachable, refused).",
            registry=registry)
        self.purged = Counter(
            "hookline_purged_rows", "Rows deleted by retention purges.", registry=registry)
        self.relayed = Counter(
            "hookline_outbox_rows_relayed", "Outbox rows relayed into Hookline.",
            registry=registry)
        self.relay_lag = Histogram(
            "hookline_outbox_relay_lag_seconds", "Seconds from an outbox row's commit to its "
            "publish.", buckets=LAG_BUCKETS, registry=registry)


@dataclass
class _State:
    instruments: _Instruments
    registry: CollectorRegistry  # what `render` collects
    directory: Path | None  # multiprocess mode's directory, or None in one process


def _single_process(app_labels: bool) -> _State:
    registry = CollectorRegistry(auto_describe=True)
    return _State(_Instruments(registry, app_labels), registry, None)


_state = _single_process(app_labels=False)


def configure(*, app_labels: bool = False, directory: Path | None = None) -> None:
    """Choose the mode: one process (no `directory`), or many writing to `directory`. Done
    once at start, before anything is counted; calling it again with the same mode keeps the
    values counted so far."""
    global _state
    if _state.directory == directory and _state.instruments.app_labels == app_labels:
        return
    if directory is None:
        values.ValueClass = values.MutexValue
        _state = _single_process(app_labels)
        return
    directory.mkdir(parents=True, exist_ok=True)
    # The library's multiprocess values read their directory from the environment when they
    # open their files: this process's children (worker processes) inherit it too.
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    _state = _State(_Instruments(None, app_labels), registry, directory)


def clear_directory(directory: Path) -> None:
    """Remove the values of processes that ran before (called by the process that starts the
    others, before it starts them)."""
    if directory.is_dir():
        for entry in directory.glob("*.db"):
            entry.unlink(missing_ok=True)


def process_exited(pid: int) -> None:
    """A worker process ended: its live gauges (in-flight requests) stop counting."""
    if _state.directory is not None:
        multiprocess.mark_process_dead(pid, str(_state.directory))  # type: ignore[no-untyped-call]


def render() -> tuple[bytes, str]:
    """The text exposition of every metric, and its content type."""
    return generate_latest(_state.registry), CONTENT_TYPE_LATEST


# -- what the rest of Hookline calls ------------------------------------------------------
def count_published(app_id: str, n: int = 1) -> None:
    """`n` messages of application `app_id` were stored by a publish."""
    published = _state.instruments.published
    (published.labels(app_id) if _state.instruments.app_labels else published).inc(n)


def observe_publish_group(size: int) -> None:
    """One store write of `size` single publishes (group commit)."""
    _state.instruments.publish_groups.observe(size)


def observe_attempt(app_id: str, outcome: str, error_kind: str | None, duration: float,
                    lag: float | None = None) -> None:
    """An attempt was recorded. `outcome`: succeeded, retrying or failed; `lag`: seconds from
    publish to this attempt, given for a message's first scheduled attempt only."""
    ins = _state.instruments
    labels = [app_id] if ins.app_labels else []
    ins.attempts.labels(*labels, outcome, error_kind or "none").inc()
    ins.duration.observe(max(duration, 0.0))
    if lag is not None:
        ins.lag.observe(max(lag, 0.0))


def request_started() -> None:
    _state.instruments.in_flight.inc()


def request_ended(n: int = 1) -> None:
    _state.instruments.in_flight.dec(n)


def count_store_error(n: int = 1) -> None:
    """A database operation failed (the worker retries it; the API answered 503)."""
    _state.instruments.store_errors.inc(n)


def count_purged(n: int) -> None:
    """A retention purge deleted `n` rows."""
    _state.instruments.purged.inc(n)


def set_circuit_open(n: int) -> None:
    """`n` endpoints have their circuit open (paused after failures)."""
    _state.instruments.endpoints.labels("circuit_open").set(n)


def count_relayed(n: int, lag: float | None = None) -> None:
    """The outbox relay published `n` rows; `lag`: seconds from the oldest row's commit."""
    _state.instruments.relayed.inc(n)
    if lag is not None:
        _state.instruments.relay_lag.observe(max(lag, 0.0))


def set_queue_depth(depth: Mapping[str, int]) -> None:
    """Pending deliveries by state (`QUEUE_STATES`), as read from the database."""
    for state in QUEUE_STATES:
        _state.instruments.queue_depth.labels(state).set(depth.get(state, 0))


def set_endpoints(enabled: int, disabled: int) -> None:
    """Endpoints by state, as read from the database."""
    _state.instruments.endpoints.labels("enabled").set(enabled)
    _state.instruments.endpoints.labels("disabled").set(disabled)
