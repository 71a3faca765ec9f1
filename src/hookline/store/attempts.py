"""Attempts and the endpoint statistics computed from them.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound
from ..models import Attempt, Message
from .core import (
    Page,
    StoreCore,
    Window,
    as_window,
    attempt_from_row,
    message_from_row,
    window_page,
)


class AttemptQueries(StoreCore):
    """Reading what happened."""

    # -- attempts ------------------------------------------------------------------------
    async def list_attempts(
        self,
        app_id: str,
        limit: int,
        iterator: str | Window | None,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        succeeded: bool | None = None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
        status_code_class: int | None = None,
        channel: str | None = None,
        tag: str | None = None,
    ) -> Page:
        types = self.dialect.list_param(event_types) if event_types else None
        window = as_window(iterator, ascending=False)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                self.q.list_attempts[window.reads_ascending],
                app_id, window.before, message_id, endpoint_id, succeeded, types, before, after,
                limit + 1, status_code_class, channel, tag, window.after)
        return window_page([attempt_from_row(r) for r in rows], limit, lambda a: a.id, window)

    async def get_messages(self, app_id: str, message_ids: Sequence[str]) -> list[Message]:
        """The application's messages of these ids (those that exist), in no order."""
        if not message_ids:
            return []
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.messages_by_id,
                                    self.dialect.list_param(sorted(set(message_ids))))
        return [message_from_row(r) for r in rows if r["app_id"] == app_id]

    async def get_attempt(self, app_id: str, attempt_id: str) -> Attempt:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_attempt, app_id, attempt_id)
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
                self.q.endpoint_delivery_counts, app_id, endpoint_id, since, until, now)
        counts = {"success": 0, "fail": 0, "pending": 0, "sending": 0}
        counts.update({r["state"]: int(r["n"]) for r in rows})
        return counts

    async def endpoint_attempt_counts(self, app_id: str, endpoint_id: str,
                                      starts: Sequence[float]) -> list[tuple[int, int]]:
        """(succeeded, failed) finished attempts since each time in `starts`; test sends
        excluded."""
        async with self.db.connection() as conn:
            [row] = await conn.fetch(
                self.q.endpoint_attempt_counts(len(starts)),
                app_id, endpoint_id, min(starts), *starts)
        return [(int(row[f"ok{i}"] or 0), int(row[f"bad{i}"] or 0)) for i in range(len(starts))]

    async def endpoint_hourly_counts(self, app_id: str, endpoint_id: str,
                                     since: float) -> list[tuple[int, int, int]]:
        """(hour number since the epoch, succeeded, failed) for hours with attempts since
        `since`; test sends excluded."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.endpoint_hourly_counts, app_id, endpoint_id, since)
        return [(int(r["hour"]), int(r["ok"]), int(r["bad"])) for r in rows]
