"""Attempts and the endpoint statistics computed from them."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound
from ..models import Attempt
from .core import Page, StoreCore, attempt_from_row, make_page


class AttemptQueries(StoreCore):
    """Reading what happened."""

    # -- attempts ------------------------------------------------------------------------
    async def list_attempts(
        self,
        app_id: str,
        limit: int,
        iterator: str | None,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        succeeded: bool | None = None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
    ) -> Page:
        types = self.list_param(event_types) if event_types else None
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT a.*, m.event_type FROM attempts a JOIN messages m ON m.id = a.message_id "
                "WHERE a.app_id = $1 AND ($2::text IS NULL OR a.id < $2) "
                "AND ($3::text IS NULL OR a.message_id = $3) "
                "AND ($4::text IS NULL OR a.endpoint_id = $4) "
                "AND ($5::boolean IS NULL OR a.succeeded = $5) "
                f"AND ($6::text[] IS NULL OR m.event_type {self.any_of('$6')}) "
                "AND ($7::float8 IS NULL OR a.created_at < $7) "
                "AND ($8::float8 IS NULL OR a.created_at > $8) "
                "ORDER BY a.id DESC LIMIT $9",
                app_id, iterator, message_id, endpoint_id, succeeded, types, before, after,
                limit + 1)
        return make_page([attempt_from_row(r) for r in rows], limit, lambda a: a.id)

    async def get_attempt(self, app_id: str, attempt_id: str) -> Attempt:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM attempts WHERE app_id = $1 AND id = $2", app_id, attempt_id)
        if row is None:
            raise NotFound(f"attempt {attempt_id!r} not found")
        return attempt_from_row(row)


    # -- endpoint statistics ------------------------------------------------------------
    async def endpoint_delivery_counts(self, app_id: str, endpoint_id: str, since: float,
                                       until: float, now: float) -> dict[str, int]:
        """Deliveries created in [since, until] by state: success, fail, pending, and sending
        (pending and leased by a worker right now)."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT CASE WHEN status = 'succeeded' THEN 'success' "
                "WHEN status = 'failed' THEN 'fail' "
                "WHEN lease_id IS NOT NULL AND next_attempt_at > $5 THEN 'sending' "
                "ELSE 'pending' END AS state, COUNT(*) AS n FROM deliveries "
                "WHERE app_id = $1 AND endpoint_id = $2 AND created_at >= $3 "
                "AND created_at <= $4 GROUP BY 1",
                app_id, endpoint_id, since, until, now)
        counts = {"success": 0, "fail": 0, "pending": 0, "sending": 0}
        counts.update({r["state"]: int(r["n"]) for r in rows})
        return counts

    async def endpoint_attempt_counts(self, app_id: str, endpoint_id: str,
                                      starts: Sequence[float]) -> list[tuple[int, int]]:
        """(succeeded, failed) finished attempts since each time in `starts`; test sends
        excluded."""
        sums = ", ".join(
            f"SUM(CASE WHEN succeeded AND created_at >= ${i + 4} THEN 1 ELSE 0 END) AS ok{i}, "
            f"SUM(CASE WHEN NOT succeeded AND created_at >= ${i + 4} THEN 1 ELSE 0 END) "
            f"AS bad{i}" for i in range(len(starts)))
        async with self.db.connection() as conn:
            [row] = await conn.fetch(
                f"SELECT {sums} FROM attempts WHERE app_id = $1 AND endpoint_id = $2 "
                "AND created_at >= $3 AND trigger <> 'test' AND NOT sending",
                app_id, endpoint_id, min(starts), *starts)
        return [(int(row[f"ok{i}"] or 0), int(row[f"bad{i}"] or 0)) for i in range(len(starts))]

    async def endpoint_hourly_counts(self, app_id: str, endpoint_id: str,
                                     since: float) -> list[tuple[int, int, int]]:
        """(hour number since the epoch, succeeded, failed) for hours with attempts since
        `since`; test sends excluded."""
        # FLOOR is not in every SQLite build; a cast truncates, which floors positive times.
        hour = ("FLOOR(created_at / 3600)" if self.dialect == "postgres"
                else "CAST(created_at / 3600 AS INTEGER)")
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {hour} AS hour, SUM(CASE WHEN succeeded THEN 1 ELSE 0 END) AS ok, "
                "SUM(CASE WHEN succeeded THEN 0 ELSE 1 END) AS bad FROM attempts "
                "WHERE app_id = $1 AND endpoint_id = $2 AND created_at >= $3 "
                "AND trigger <> 'test' AND NOT sending GROUP BY 1", app_id, endpoint_id, since)
        return [(int(r["hour"]), int(r["ok"]), int(r["bad"])) for r in rows]
