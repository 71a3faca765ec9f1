"""Group commit (service/group_commit.py): what callers that arrive together share, and what
each of them still gets alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hookline.errors import Conflict, GroupInterrupted, StaleConfiguration
from hookline.service.group_commit import GroupCommit
from tests.support.polling import DEADLINE, wait_until


class Ledger:
    """A write function that records each group it was given, and can be held shut."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.refuse: set[str] = set()  # items whose presence fails the whole group
        self.shared_failure: Exception | None = None

    async def write(self, key: str, items: Sequence[str]) -> list[str]:
        self.groups.append(list(items))
        await self.gate.wait()
        if self.shared_failure is not None:
            raise self.shared_failure
        if self.refuse & set(items):
            raise Conflict(f"refused: {sorted(self.refuse & set(items))}")
        return [f"{key}:{item}" for item in items]


def commit(ledger: Ledger, max_group: int = 100, max_waiting: int = 400) -> GroupCommit[
        str, str, str]:
    return GroupCommit(ledger.write, max_group=max_group, max_waiting=max_waiting,
                       whole_group=(StaleConfiguration,))


async def held_first(ledger: Ledger, groups: GroupCommit[str, str, str],
                     ) -> asyncio.Task[str]:
    """A first caller whose write is held, so that the next ones queue behind it."""
    ledger.gate.clear()
    first = asyncio.create_task(groups.submit("app", "first"))
    await wait_until(lambda: ledger.groups, what="the first write to start")
    return first


async def test_a_lone_item_is_written_in_its_callers_first_step_with_no_linger() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    task = asyncio.create_task(groups.submit("app", "alone"))
    await asyncio.sleep(0)  # the task's first step, and nothing after it

    assert ledger.groups == [["alone"]]
    assert await task == "app:alone"


async def test_items_arriving_during_a_write_share_the_next_one_and_each_gets_its_own() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    rest = [asyncio.create_task(groups.submit("app", f"m{n}")) for n in range(5)]
    await wait_until(lambda: groups.pending == 6, what="five callers queued")
    ledger.gate.set()

    assert await first == "app:first"
    assert await asyncio.gather(*rest) == [f"app:m{n}" for n in range(5)]
    assert ledger.groups == [["first"], [f"m{n}" for n in range(5)]]
    assert groups.pending == 0


async def test_keys_do_not_share_a_write() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    other = asyncio.create_task(groups.submit("other", "x"))
    await wait_until(lambda: len(ledger.groups) == 2, what="the other key's write")
    ledger.gate.set()

    assert (await first, await other) == ("app:first", "other:x")


async def test_a_group_the_store_refuses_is_written_again_one_by_one() -> None:
    ledger = Ledger()
    ledger.refuse = {"bad"}
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    rest = [asyncio.create_task(groups.submit("app", item)) for item in ("a", "bad", "b")]
    await wait_until(lambda: groups.pending == 4, what="three callers queued")
    ledger.gate.set()
    await first
    answers = await asyncio.gather(*rest, return_exceptions=True)

    assert answers[0] == "app:a" and answers[2] == "app:b"
    assert isinstance(answers[1], Conflict)
    assert ledger.groups == [["first"], ["a", "bad", "b"], ["a"], ["bad"], ["b"]]


async def test_a_failure_of_the_whole_key_answers_every_item_without_writing_again() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    rest = [asyncio.create_task(groups.submit("app", item)) for item in ("a", "b")]
    await wait_until(lambda: groups.pending == 3, what="two callers queued")
    ledger.shared_failure = StaleConfiguration()
    ledger.gate.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)

    assert all(isinstance(a, StaleConfiguration) for a in answers)
    assert ledger.groups == [["first"], ["a", "b"]]


async def test_groups_hold_at_most_max_group_items() -> None:
    ledger = Ledger()
    groups = commit(ledger, max_group=3)
    first = await held_first(ledger, groups)
    rest = [asyncio.create_task(groups.submit("app", f"m{n}")) for n in range(7)]
    await wait_until(lambda: groups.pending == 8, what="seven callers queued")
    ledger.gate.set()
    await asyncio.gather(first, *rest)

    assert [len(g) for g in ledger.groups] == [1, 3, 3, 1]


async def test_beyond_max_waiting_callers_wait_for_room_before_they_queue() -> None:
    ledger = Ledger()
    groups = commit(ledger, max_waiting=3)
    first = await held_first(ledger, groups)
    rest = [asyncio.create_task(groups.submit("app", f"m{n}")) for n in range(4)]
    await wait_until(lambda: groups.pending == 3, what="the room full")
    for _ in range(5):
        await asyncio.sleep(0)
    assert groups.pending == 3  # two queued behind the write; two outside, waiting for room
    ledger.gate.set()

    assert await asyncio.gather(first, *rest) == ["app:first", *(f"app:m{n}" for n in range(4))]
    assert max(len(g) for g in ledger.groups) <= 3


async def test_a_caller_cancelled_while_queued_is_not_written_and_the_rest_go_on() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    gone = asyncio.create_task(groups.submit("app", "gone"))
    kept = asyncio.create_task(groups.submit("app", "kept"))
    await wait_until(lambda: groups.pending == 3, what="two callers queued")
    gone.cancel()
    ledger.gate.set()

    assert (await first, await kept) == ("app:first", "app:kept")
    assert ledger.groups == [["first"], ["kept"]]
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_caller_cancelled_as_it_is_handed_the_lead_passes_it_on() -> None:
    ledger = Ledger()
    groups = commit(ledger)
    ledger.gate.clear()
    heir = asyncio.create_task(groups.submit("app", "heir"))
    after = asyncio.create_task(groups.submit("app", "after"))

    async def release_once_queued() -> None:
        await wait_until(lambda: groups.pending == 3, what="two callers queued")
        ledger.gate.set()

    releaser = asyncio.create_task(release_once_queued())
    # Awaited here, not in a task: this test runs on the moment `first` returns, when the
    # lead was handed to `heir` and `heir` has not run since.
    assert await groups.submit("app", "first") == "app:first"
    heir.cancel()

    assert await asyncio.wait_for(after, DEADLINE) == "app:after"
    assert ledger.groups == [["first"], ["after"]]
    with pytest.raises(asyncio.CancelledError):
        await heir
    await releaser


async def test_callers_sharing_a_write_cancelled_in_its_lead_are_told_it_was_interrupted(
        ) -> None:
    ledger = Ledger()
    groups = commit(ledger)
    first = await held_first(ledger, groups)
    leader = asyncio.create_task(groups.submit("app", "leader"))
    follower = asyncio.create_task(groups.submit("app", "follower"))
    await wait_until(lambda: groups.pending == 3, what="two callers queued")
    held, ledger.gate = ledger.gate, asyncio.Event()  # the next write is held too
    held.set()
    await first
    await wait_until(lambda: len(ledger.groups) == 2, what="the leader's write")
    leader.cancel()

    with pytest.raises(asyncio.CancelledError):
        await leader
    with pytest.raises(GroupInterrupted):
        await asyncio.wait_for(follower, DEADLINE)
    ledger.gate.set()
    assert await groups.submit("app", "later") == "app:later"  # the lane was handed back
