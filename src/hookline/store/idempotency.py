"""Idempotent requests: the first answer to a creating request, kept per key and replayed.

A request with an `idempotency-key` runs in one transaction whose first write claims the key
(`INSERT ... ON CONFLICT`); its answer is stored in that same transaction. So the key, what
the request created and the answer commit together or not at all, and a concurrent request
with the same key either waits for that commit (PostgreSQL's row lock on the key; SQLite's one
writer) and replays the answer, or, if the first one failed and rolled back, runs itself.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..errors import Conflict
from .core import IDEMPOTENCY_WINDOW, StoreCore


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


@dataclass
class IdempotentRequest:
    """One request under a key: a replay of the first answer, or the right to answer."""

    scope: str  # the application in the path, or "" for account-wide routes
    key: str
    request: str  # method and path: a key names one request, not one per route
    replay: StoredAnswer | None = None
    answer: StoredAnswer | None = None

    def save(self, status: int, body: str) -> None:
        self.answer = StoredAnswer(status, body)


class IdempotencyQueries(StoreCore):
    """The idempotent_requests table."""

    @asynccontextmanager
    async def idempotent(self, scope: str, key: str, request: str,
                         now: float) -> AsyncIterator[IdempotentRequest]:
        """A transaction holding the key: the caller's writes join it. If `replay` is set,
        the key was answered before and nothing may be written; otherwise `save` the answer.
        A key past the window is claimed afresh. A key used for another request: 409."""
        slot = IdempotentRequest(scope, key, request)
        async with self.db.transaction() as tx:
            claimed = await tx.fetchrow(
                self.q.claim_request_key, scope, key, request, now, now - IDEMPOTENCY_WINDOW)
            if claimed is None:
                # Held by a committed request (a fresh statement sees what a concurrent
                # claimer committed while this one waited for its lock).
                row = await tx.fetchrow(self.q.request_holding_key, scope, key)
                if row is None or row["body"] is None:
                    raise Conflict("a request with this idempotency-key is still running")
                if row["request"] != request:
                    raise Conflict(f"this idempotency-key was used for {row['request']}; "
                                   "use a new key for a different request")
                slot.replay = StoredAnswer(row["status"], self.box.open(row["body"]))
                yield slot
                return
            yield slot
            if slot.answer is None:
                raise RuntimeError("an idempotent request ended without saving its answer")
            # Sealed: some answers carry a secret (a new API token).
            await tx.execute(
                self.q.save_request_answer,
                scope, key, slot.answer.status, self.box.seal(slot.answer.body))
