"""The transaction a task has open, which the store calls it makes meanwhile join.

One idempotent request is one transaction, whatever it writes: a store method called inside
another's `transaction()`, in the same task, runs in that transaction (as a savepoint, where
it opens one of its own). A task started inside it does not join it: the record holds the
task that opened it. Both drivers keep theirs with this.

What must wait for the commit (starting a job that reads the rows, waking other processes'
workers) asks `after_commit`: it runs once the outermost transaction commits, is dropped if
that rolls back, and runs at once where no transaction is open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

C = TypeVar("C")
Callback = Callable[[], None]

log = logging.getLogger(__name__)


class OpenTransaction(Generic[C]):
    """Per database: which connection, if any, holds this task's open transaction, and what
    waits for it to commit."""

    def __init__(self, name: str) -> None:
        self._open: ContextVar[
            tuple[asyncio.Task[object] | None, C, list[Callback]] | None] = ContextVar(
            name, default=None)

    def _held(self) -> tuple[C, list[Callback]] | None:
        held = self._open.get()
        if held is not None and held[0] is asyncio.current_task():
            return held[1], held[2]
        return None

    def joined(self) -> C | None:
        """The connection of the transaction this task has open, or None."""
        held = self._held()
        return None if held is None else held[0]

    def after_commit(self, callback: Callback) -> None:
        """Call `callback` once this task's open transaction commits; now if none is."""
        held = self._held()
        if held is None:
            callback()
        else:
            held[1].append(callback)

    @contextmanager
    def opened(self, conn: C) -> Iterator[list[Callback]]:
        """While inside, `joined()` in this task is `conn`. Yields the callbacks that wait
        for the commit: the driver calls `committed(callbacks)` after it commits."""
        callbacks: list[Callback] = []
        token = self._open.set((asyncio.current_task(), conn, callbacks))
        try:
            yield callbacks
        finally:
            self._open.reset(token)


def committed(callbacks: list[Callback]) -> None:
    """Run what waited for a transaction that has just committed, in order. One that fails
    is logged: the transaction stays committed, and its caller must hear so."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("a step waiting for a commit failed")
