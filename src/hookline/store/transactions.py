"""The transaction a task has open, which the store calls it makes meanwhile join.

One idempotent request is one transaction, whatever it writes: a store method called inside
another's `transaction()`, in the same task, runs in that transaction (as a savepoint, where
it opens one of its own). A task started inside it does not join it: the record holds the
task that opened it. Both drivers keep theirs with this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

C = TypeVar("C")


class OpenTransaction(Generic[C]):
    """Per database: which connection, if any, holds this task's open transaction."""

    def __init__(self, name: str) -> None:
        self._open: ContextVar[tuple[asyncio.Task[object] | None, C] | None] = ContextVar(
            name, default=None)

    def joined(self) -> C | None:
        """The connection of the transaction this task has open, or None."""
        held = self._open.get()
        if held is not None and held[0] is asyncio.current_task():
            return held[1]
        return None

    @contextmanager
    def opened(self, conn: C) -> Iterator[C]:
        """While inside, `joined()` in this task is `conn`."""
        token = self._open.set((asyncio.current_task(), conn))
        try:
            yield conn
        finally:
            self._open.reset(token)
