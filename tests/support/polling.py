"""Waiting without sleeps: poll for the condition a test expects, with a deadline.

`wait_until` is the one loop (`wait_until_blocking` its twin for threads and synchronous
tests); the helpers below name the conditions tests wait for most.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the receiver's tests use this module too, and import nothing of the server
    from hookline.models import Application, Attempt
    from hookline.runtime import Runtime
    from hookline.service import Service

DEADLINE = 10.0
INTERVAL = 0.05


async def wait_until(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = DEADLINE,
                     what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(INTERVAL)


def wait_until_blocking(predicate: Callable[[], Any], timeout: float = DEADLINE,
                        what: str = "condition", interval: float = INTERVAL) -> Any:
    """`wait_until` for code that may block its thread (no event loop there)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def attempts_of(service: Service, app_id: str, **filters: Any) -> list[Attempt]:
    """Recorded attempts (filtered like `Service.list_attempts`), oldest first. An attempt in
    flight is not stored yet: it is stored once, with its outcome."""
    page = await service.list_attempts(app_id, 250, None, **filters)
    return sorted(page.data, key=lambda a: (a.created_at, a.attempt_number))


async def attempts_recorded(service: Service, app_id: str, count: int,
                            timeout: float = DEADLINE, **filters: Any) -> list[Attempt]:
    """Wait until at least `count` attempts are recorded (outcome, delivery state and the
    endpoint's failure streak are stored together), and return them oldest first."""
    return await attempts_matching(service, app_id, lambda found: len(found) >= count,
                                   timeout, f"{count} recorded attempts", **filters)


async def attempts_matching(service: Service, app_id: str,
                            condition: Callable[[list[Attempt]], bool],
                            timeout: float = DEADLINE, what: str = "recorded attempts",
                            **filters: Any) -> list[Attempt]:
    """Wait until the recorded attempts, oldest first, satisfy `condition`; return them."""

    async def matching() -> list[Attempt] | None:
        found = await attempts_of(service, app_id, **filters)
        return found if condition(found) else None

    result: list[Attempt] = await wait_until(matching, timeout, what)
    return result


async def deliveries_failed(service: Service, app: str | Application, endpoint_id: str,
                            count: int,
                            timeout: float = DEADLINE) -> None:
    """Wait until `count` of the endpoint's deliveries have failed (their schedule ran out)."""

    async def failed() -> bool:
        stats = await service.endpoint_stats(app, endpoint_id)
        return stats.deliveries["fail"] >= count

    await wait_until(failed, timeout, f"{count} failed deliveries")


async def deliveries_settled(runtime: Runtime, timeout: float = DEADLINE) -> dict[str, int]:
    """Wait until no delivery is pending (each succeeded or failed); return the counts."""

    async def settled() -> dict[str, int] | None:
        counts = await runtime.store.delivery_counts()
        return counts if not counts.get("pending") else None

    result: dict[str, int] = await wait_until(settled, timeout, "no delivery pending")
    return result


async def wait_while_progressing(progress: Callable[[], Any | Awaitable[Any]], goal: int,
                                 stall: float, what: str = "progress") -> int:
    """Wait until `progress()` (a count, sync or async) reaches `goal`. A loaded machine is
    slow, not stuck: fail only when the count has not moved for `stall` seconds."""
    last, moved = -1, time.monotonic()
    while True:
        value: Any = progress()
        if asyncio.iscoroutine(value):
            value = await value
        current = int(value)
        if current >= goal:
            return current
        if current != last:
            last, moved = current, time.monotonic()
        elif time.monotonic() - moved > stall:
            raise AssertionError(f"{what}: stuck at {current} of {goal} for {stall:g} s")
        await asyncio.sleep(INTERVAL)
