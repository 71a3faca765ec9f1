"""Erasing content on request: Svix's four expunge routes (docs/retention.md).

Expunging erases a message's payload (it reads back `{}`, flagged expunged) and its attempts'
request headers and response bodies; the message, its deliveries and attempts stay, so the
record of what was sent, when, and with what outcome survives the erasure. It is final and
idempotent: expunging twice is not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..errors import InvalidInput, NotFound
from .core import AppKey, ServiceCore

EXPUNGE_BATCH = 500  # rows per transaction when expunging a whole application
MAX_BULK_IDS = 1000
ExpungeStatus = Literal["expunged", "not-found"]


class HistoryUseCases(ServiceCore):
    """Content expunge."""

    async def expunge_message_content(self, app_key: AppKey, message_key: str) -> None:
        app = await self.get_app(app_key)
        if await self.store.expunge_message(app.id, message_key, self.clock()) is None:
            raise NotFound(f"message {message_key!r} not found")

    async def expunge_attempt_content(self, app_key: AppKey, message_key: str,
                                      attempt_id: str) -> None:
        app = await self.get_app(app_key)
        message = await self.store.get_message(app.id, message_key)
        if not await self.store.expunge_attempt(app.id, message.id, attempt_id):
            raise NotFound(f"attempt {attempt_id!r} not found")

    async def bulk_expunge(self, app_key: AppKey,
                           keys: Sequence[str]) -> dict[str, ExpungeStatus]:
        """Each message (by id or event id) expunged, or "not-found"; Svix's answer."""
        if len(keys) > MAX_BULK_IDS:
            raise InvalidInput(f"at most {MAX_BULK_IDS} ids at once", field="ids")
        app = await self.get_app(app_key)
        now = self.clock()
        results: dict[str, ExpungeStatus] = {}
        for key in keys:
            found = await self.store.expunge_message(app.id, key, now) is not None
            results[key] = "expunged" if found else "not-found"
        return results

    async def expunge_all_contents(self, app_key: AppKey) -> int:
        """Every message's and attempt's content in the application, in batches of
        `EXPUNGE_BATCH` rows per transaction; returns the rows changed. Done before it
        returns (Svix runs it as a background task)."""
        app = await self.get_app(app_key)
        changed = 0
        while batch := await self.store.expunge_app_batch(app.id, self.clock(), EXPUNGE_BATCH):
            changed += batch
        return changed
