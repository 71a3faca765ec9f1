"""A clock the test moves by hand, so retry schedules run without waiting real seconds.

The worker and the service take a `clock` callable (epoch seconds); give both the same
`FakeClock` and a retry due in five minutes is due the moment the test says so.
"""

from __future__ import annotations

import time


class FakeClock:
    """Epoch seconds that stand still until `advance()`; starts at the real time so stored
    timestamps stay plausible (the stats windows are relative to now)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    __call__ = now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds`; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        return self._now
