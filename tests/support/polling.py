"""Waiting without sleeps: poll for a condition with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 10.0,
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
        await asyncio.sleep(0.05)
