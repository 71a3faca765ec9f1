"""Coalesced wake-ups: a burst of publishes sends few NOTIFYs, and never loses the last one."""

from __future__ import annotations

import asyncio

from hookline.store.wakeups import CoalescedWake
from tests.support.polling import wait_until

INTERVAL = 0.05


async def test_a_burst_of_wake_ups_sends_one_at_once_and_one_after_the_interval() -> None:
    sent: list[float] = []

    async def send() -> None:
        sent.append(asyncio.get_running_loop().time())

    wake = CoalescedWake(send, interval=INTERVAL)
    for _ in range(100):
        wake()
        await asyncio.sleep(0)
    await wait_until(lambda: len(sent) >= 1, what="the first wake-up")
    wake()  # after the first was sent: must not be lost
    await wait_until(lambda: len(sent) >= 2, what="the trailing wake-up")
    await asyncio.sleep(INTERVAL * 2)

    assert len(sent) == 2
    assert sent[1] - sent[0] >= INTERVAL * 0.9
    await wake.close()


async def test_a_failing_send_is_logged_and_the_next_wake_up_still_goes_out() -> None:
    calls = 0

    async def send() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database unreachable")

    wake = CoalescedWake(send, interval=0.01)
    wake()
    await wait_until(lambda: calls == 1, what="the first attempt")
    wake()
    await wait_until(lambda: calls == 2, what="the next wake-up")
    await wake.close()
