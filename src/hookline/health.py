"""What an operator asks of a running Hookline: the queue, the endpoints, the workers, the
last purge; and the rules that call a worker live or stalled. Plain data and pure functions:
the store reads the numbers, the service assembles them, `/readyz` and `hookline status`
show them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# The meta key a retention purge sets after each run: {"at": epoch seconds, "rows": n}.
LAST_PURGE_KEY = "purge.last"
# A worker whose heartbeat is older than this many intervals is gone.
LIVE_INTERVALS = 3


@dataclass(frozen=True)
class WorkerBeat:
    """A worker's last heartbeat: `loop_at` is when its claim loop last went round."""

    name: str
    started_at: float
    heartbeat_at: float
    loop_at: float
    in_flight: int


@dataclass(frozen=True)
class QueueDepth:
    """Pending deliveries by state (due, scheduled, leased) and when the oldest due one
    became due."""

    counts: dict[str, int]
    oldest_due_at: float | None


@dataclass
class WorkerStatus:
    name: str
    started_at: float
    heartbeat_age: float
    loop_age: float
    in_flight: int
    stalled: bool


@dataclass
class StatusReport:
    """`hookline status`: one screen of what an operator wants to know."""

    now: float
    queue: dict[str, int]
    oldest_due_age: float | None
    endpoints: dict[str, int]
    workers: list[WorkerStatus] = field(default_factory=list)
    last_purge: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def live_since(now: float, interval: float) -> float:
    """The oldest heartbeat of a worker still counted as running."""
    return now - LIVE_INTERVALS * interval


def worker_status(beat: WorkerBeat, now: float, stall_seconds: float) -> WorkerStatus:
    return WorkerStatus(beat.name, beat.started_at, max(now - beat.heartbeat_at, 0.0),
                        max(now - beat.loop_at, 0.0), beat.in_flight,
                        stalled=now - beat.loop_at > stall_seconds)


def parse_last_purge(raw: str | None) -> dict[str, Any] | None:
    """The purge's meta value, or None when no purge ran (or its value is unreadable)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_report(report: StatusReport) -> str:
    """`hookline status`: one screen."""
    q, e = report.queue, report.endpoints
    lines = [
        f"queue:      {q.get('due', 0)} due, {q.get('scheduled', 0)} scheduled retries, "
        f"{q.get('leased', 0)} leased; oldest due {_age(report.oldest_due_age)} ago",
        f"endpoints:  {e.get('enabled', 0)} enabled, {e.get('disabled', 0)} disabled",
        f"workers:    {len(report.workers)} live",
    ]
    for w in report.workers:
        state = "STALLED" if w.stalled else "ok"
        lines.append(f"  {w.name}  {state}  heartbeat {_age(w.heartbeat_age)} ago, loop "
                     f"{_age(w.loop_age)} ago, {w.in_flight} in flight")
    purge = report.last_purge
    lines.append("last purge: " + ("never" if purge is None else
                                   f"{_age(report.now - float(purge.get('at', 0)))} ago, "
                                   f"{purge.get('rows', '?')} rows"))
    return "\n".join(lines)
