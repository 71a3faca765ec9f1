"""Group commit: concurrent writes of one kind coalesced into one, each caller answered alone.

Single publishes arriving together each paid a transaction (a commit, a round trip, SQLite's
thread hand-off) for one message; the batch route shows one write carries a hundred. Here a
caller whose lane (one application and configuration version) has no write in flight writes
at once, alone: no linger, so a lone publish waits for nothing. Callers arriving meanwhile
queue up; when the write ends, the first of them leads the next, with every caller queued by
then (at most `max_group`), and so on. Each caller returns only once its own item is written:
its answer still means committed.

A group write that fails is not anyone's answer: its items are written again one by one, so
an item the database refuses (a duplicate eventId) refuses only itself, and the others get
exactly what a write of their own would have given. At most `max_waiting` items wait or are
being written; beyond, callers wait for room (back-pressure, not an unbounded queue). A
leader cancelled in its write (its request's task, at shutdown) leaves the others of that
write not knowing whether it committed: they are answered `GroupInterrupted`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..errors import GroupInterrupted

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")
WriteGroup = Callable[[K, Sequence[T]], Awaitable[Sequence[R]]]
_LEAD = object()  # a queued caller's future set to this: write the next group


@dataclass
class _Waiter(Generic[T]):
    item: T
    answer: asyncio.Future[object]


@dataclass
class _Lane(Generic[T]):
    queued: deque[_Waiter[T]] = field(default_factory=deque)
    writing: bool = False  # while True, a caller holds the lead; `queued` waits for it


class GroupCommit(Generic[K, T, R]):
    """Coalesces `write(key, items)` calls of one key; `write` returns one result per item,
    in order, or raises for the group. An error of a `whole_group` type is every item's
    answer as it is (the key's, not an item's: the items are not written one by one)."""

    def __init__(self, write: WriteGroup[K, T, R], *, max_group: int, max_waiting: int,
                 whole_group: tuple[type[Exception], ...] = ()) -> None:
        self._write = write
        self.max_group = max_group
        self._room = asyncio.Semaphore(max_waiting)
        self._whole_group = whole_group
        self._lanes: dict[K, _Lane[T]] = {}
        self.pending = 0  # callers in the room: queued, or in a write

    async def submit(self, key: K, item: T) -> R:
        """`item` written (with whatever else of `key` is waiting): its result, or its error."""
        async with self._room:
            self.pending += 1
            try:
                return await self._submitted(key, item)
            finally:
                self.pending -= 1

    async def _submitted(self, key: K, item: T) -> R:
        lane = self._lanes.setdefault(key, _Lane())
        if not lane.writing:
            lane.writing = True
            return await self._lead(key, lane, item)
        waiter = _Waiter(item, asyncio.get_running_loop().create_future())
        lane.queued.append(waiter)
        try:
            answer = await waiter.answer
        except asyncio.CancelledError:
            if waiter.answer.done() and not waiter.answer.cancelled() and (
                    waiter.answer.result() is _LEAD):
                self._pass_lead(key, lane)  # cancelled just as it was handed the lead
            raise
        if answer is _LEAD:
            return await self._lead(key, lane, item)
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[return-value]

    async def _lead(self, key: K, lane: _Lane[T], item: T) -> R:
        """Write `item` with the queued ones (up to `max_group`), answer them, pass the lead."""
        group: list[_Waiter[T]] = []
        while lane.queued and len(group) < self.max_group - 1:
            waiter = lane.queued.popleft()
            if not waiter.answer.done():  # a cancelled caller's item is not written
                group.append(waiter)
        try:
            results = await self._written(key, [item, *(w.item for w in group)])
        except BaseException:
            for waiter in group:
                if not waiter.answer.done():
                    waiter.answer.set_result(GroupInterrupted())
            raise
        finally:
            self._pass_lead(key, lane)
        for waiter, result in zip(group, results[1:], strict=True):
            if not waiter.answer.done():
                waiter.answer.set_result(result)
        mine = results[0]
        if isinstance(mine, BaseException):
            raise mine
        return mine

    async def _written(self, key: K, items: list[T]) -> list[R | Exception]:
        """One result per item: the group's write, or if it failed, each item's own."""
        try:
            return list(await self._write(key, items))
        except self._whole_group as exc:
            return [exc] * len(items)
        except Exception as exc:  # whatever it is, it was no single item's fault yet
            if len(items) == 1:
                return [exc]
        results: list[R | Exception] = []
        for item in items:
            try:
                [result] = await self._write(key, [item])
            except Exception as exc:  # this item's answer, as a write of its own raised it
                results.append(exc)
            else:
                results.append(result)
        return results

    def _pass_lead(self, key: K, lane: _Lane[T]) -> None:
        """The lead to the first caller still queued, or the lane closed if none is."""
        while lane.queued:
            waiter = lane.queued.popleft()
            if not waiter.answer.done():
                waiter.answer.set_result(_LEAD)
                return
        lane.writing = False
        if self._lanes.get(key) is lane:
            del self._lanes[key]
