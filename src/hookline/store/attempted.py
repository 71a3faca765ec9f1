"""Svix's views of deliveries: the messages attempted to an endpoint, the endpoints a message
was attempted to, each with where it stands; and usage counts for statistics tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import DeliveryState, Endpoint, Message
from .core import (
    Page,
    Row,
    StoreCore,
    Window,
    as_window,
    load_json,
    message_from_row,
    window_page,
)


def _state(row: Row) -> DeliveryState:
    status = row["delivery_state"]
    return DeliveryState(status, row["delivery_next"] if status == "pending" else None)


class AttemptedQueries(StoreCore):
    async def list_endpoint_messages(
        self, app_id: str, endpoint_id: str, limit: int, iterator: str | Window | None,
        now: float, *,
        status: str | None = None, channel: str | None = None, tag: str | None = None,
        before: float | None = None, after: float | None = None,
        event_types: Sequence[str] | None = None,
    ) -> Page:
        """(message, its state) pairs of what was sent or is due to the endpoint, newest
        first; `status` is one of `DeliveryState`'s."""
        types: Any = self.dialect.list_param(event_types) if event_types else None
        window = as_window(iterator, ascending=False)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.endpoint_messages[window.reads_ascending], app_id,
                                    endpoint_id, window.before, status, channel, tag, before,
                                    after, types, limit + 1, now, window.after)
        pairs: list[tuple[Message, DeliveryState]] = [(message_from_row(r), _state(r))
                                                      for r in rows]
        return window_page(pairs, limit, lambda pair: pair[0].id, window)

    async def list_message_endpoints(self, app_id: str, message_id: str, limit: int,
                                     iterator: str | Window | None, now: float) -> Page:
        """(endpoint, its state) pairs of the endpoints the message goes to, by id."""
        window = as_window(iterator)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.message_endpoints[window.reads_ascending], app_id,
                                    message_id, window.after, limit + 1, now, window.before)
        pairs: list[tuple[Endpoint, DeliveryState]] = [(self._endpoint(r), _state(r))
                                                       for r in rows]
        return window_page(pairs, limit, lambda pair: pair[0].id, window)

    async def app_delivery_counts(self, since: float, until: float,
                                  app_ids: Sequence[str] | None) -> dict[str, int]:
        ids: Any = None if app_ids is None else self.dialect.list_param(app_ids)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.app_delivery_counts, since, until, ids)
        return {r["app_id"]: int(r["n"]) for r in rows}

    async def endpoint_filters(self) -> list[tuple[str, list[str] | None]]:
        """(application id, filter types) of every enabled endpoint."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.endpoint_filters)
        return [(r["app_id"], load_json(r["filter_types"])) for r in rows]
