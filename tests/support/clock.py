"""A clock the test moves by hand, so retry schedules run without waiting real seconds.

The worker and the service take a `clock` callable (epoch seconds); give both the same
`FakeClock` and a retry due in five minutes is due the moment the test says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hookline.config import Settings
from hookline.runtime import Runtime


class FakeClock:
    """Epoch seconds that stand still until `advance()`; starts at the real time so stored
    timestamps stay plausible (the stats windows are relative to now)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    __call__ = now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds`; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        for listener in self._listeners:
            listener()
        return self._now

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every `advance()` (a worker's `wake`)."""
        self._listeners.append(listener)


async def start_runtime_on(clock: FakeClock, settings: Settings) -> Runtime:
    """A runtime whose service and worker both read `clock`; advancing it wakes the worker,
    so whatever fell due is claimed at once. Stop it with `runtime.stop()`."""
    runtime = await Runtime.start(settings, clock=clock)
    assert runtime.worker is not None
    clock.on_advance(runtime.worker.wake)
    return runtime
