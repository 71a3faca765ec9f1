"""What operators read: queue depth, endpoints by state, worker heartbeats, pending migrations.

Its statements are named here, beside the methods that run them, written once for both
databases (nothing in them differs between SQLite and PostgreSQL).
"""

from __future__ import annotations

from importlib import resources

from ..health import QueueDepth, WorkerBeat
from .core import StoreCore

QUEUE_DEPTH = (
    "SELECT CASE WHEN next_attempt_at <= $1 THEN 'due' "
    "WHEN lease_id IS NOT NULL THEN 'leased' ELSE 'scheduled' END AS state, "
    "COUNT(*) AS n, MIN(next_attempt_at) AS oldest "
    "FROM deliveries WHERE status = 'pending' GROUP BY 1")
ENDPOINT_STATES = "SELECT disabled, COUNT(*) AS n FROM endpoints GROUP BY disabled"
BEAT = (
    "INSERT INTO worker_heartbeats (name, started_at, heartbeat_at, loop_at, in_flight) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
    "heartbeat_at = excluded.heartbeat_at, loop_at = excluded.loop_at, "
    "in_flight = excluded.in_flight")
END_WORKER = "DELETE FROM worker_heartbeats WHERE name = $1"
# Rows of workers gone for long are dropped as live ones beat, so the table stays small.
FORGET_WORKERS = "DELETE FROM worker_heartbeats WHERE heartbeat_at < $1"
WORKERS = (
    "SELECT name, started_at, heartbeat_at, loop_at, in_flight FROM worker_heartbeats "
    "WHERE heartbeat_at >= $1 ORDER BY name")
APPLIED = "SELECT version FROM schema_migrations"
FORGET_AFTER = 24 * 3600.0


class OperationsQueries(StoreCore):
    async def queue_depth(self, now: float) -> QueueDepth:
        async with self.db.connection() as conn:
            rows = await conn.fetch(QUEUE_DEPTH, now)
        counts = {"due": 0, "scheduled": 0, "leased": 0}
        oldest = None
        for row in rows:
            counts[row["state"]] = int(row["n"])
            if row["state"] == "due":
                oldest = row["oldest"]
        return QueueDepth(counts, oldest)

    async def endpoint_states(self) -> dict[str, int]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(ENDPOINT_STATES)
        counts = {"enabled": 0, "disabled": 0}
        for row in rows:
            counts["disabled" if row["disabled"] else "enabled"] += int(row["n"])
        return counts

    async def beat_worker(self, beat: WorkerBeat) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(BEAT, beat.name, beat.started_at, beat.heartbeat_at, beat.loop_at,
                             beat.in_flight)
            await tx.execute(FORGET_WORKERS, beat.heartbeat_at - FORGET_AFTER)

    async def end_worker(self, name: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(END_WORKER, name)

    async def live_workers(self, since: float) -> list[WorkerBeat]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(WORKERS, since)
        return [WorkerBeat(r["name"], r["started_at"], r["heartbeat_at"], r["loop_at"],
                           int(r["in_flight"])) for r in rows]

    async def pending_migrations(self) -> list[int]:
        """Migrations this version ships that the database has not applied."""
        folder = resources.files("hookline.store") / "migrations"
        shipped = {int(entry.name.split("_")[0]) for entry in folder.iterdir()
                   if self.dialect.runs_migration(entry.name)}
        async with self.db.connection() as conn:
            applied = {r["version"] for r in await conn.fetch(APPLIED)}
        return sorted(shipped - applied)
