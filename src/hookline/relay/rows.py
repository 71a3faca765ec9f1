"""What the relay moves and what it learns: outbox rows, one verdict per row, the backlog."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import HooklineError

ACCEPTED = None  # a verdict: Hookline holds the message (created now, or earlier)


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    id: str
    app: str
    event_type: str
    payload: str  # JSON text, as the application wrote it
    event_id: str | None
    channels: str | None  # a JSON array, or none
    ordering_key: str | None
    idempotency_key: str | None
    age: float  # seconds since the row was written, by the source database's clock

    @classmethod
    def of(cls, record: Any) -> OutboxRow:
        return cls(record[0], record[1], record[2], record[3], record[4], record[5], record[6],
                   record[7], record[8], float(record[9] or 0.0))

    @property
    def key(self) -> str:
        """The idempotency key Hookline sees: a re-sent row is answered with its message."""
        return self.idempotency_key or f"outbox_{self.id}"

    def message(self) -> dict[str, Any]:
        """The row as an item of the batch route (and of `MessageDraft`), in its JSON names."""
        item: dict[str, Any] = {"eventType": self.event_type,
                                "payload": json.loads(self.payload),
                                "idempotencyKey": self.key}
        if self.event_id is not None:
            item["eventId"] = self.event_id
        if self.channels is not None:
            item["channels"] = json.loads(self.channels)
        if self.ordering_key is not None:
            item["orderingKey"] = self.ordering_key
        return item


Verdict = str | None  # ACCEPTED, or why Hookline refused the row for good


class SinkUnavailable(HooklineError):
    """Hookline could not take the rows now; they stay in the outbox and are sent again."""

    status = 503
    title = "Hookline unavailable"


class SourceUnavailable(HooklineError):
    """The outbox's database cannot be read now; the relay reconnects."""

    status = 503
    title = "Outbox source unavailable"


@dataclass(frozen=True)
class Backlog:
    """An outbox's state as `hookline status` and /metrics show it."""

    pending: int  # rows not relayed yet
    oldest_age: float  # seconds the oldest of them has waited (0 when none)
    refused: int  # rows Hookline refused for good, kept with their error
