"""`MemoryStore`: de-duplication within one process, for single-worker apps and tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ._dedupe import DEFAULT_RETENTION

_SWEEP_EVERY = 1024
"""Claims between two sweeps of expired entries, so memory stays bounded without a timer."""


class MemoryStore:
    """Thread-safe claims in a dict. Lost on restart and invisible to other processes: use
    `SqliteStore` or `RedisStore` when several workers serve the same endpoint."""

    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention = retention
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[bool, float]] = {}  # key -> (done, expires_at)
        self._claims = 0

    def claim(self, key: str, ttl: float) -> bool:
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is not None and entry[1] > now:
                return False
            self._entries[key] = (False, now + ttl)
            self._claims += 1
            if self._claims % _SWEEP_EVERY == 0:
                self._sweep(now)
            return True

    def complete(self, key: str) -> None:
        with self._lock:
            self._entries[key] = (True, self._clock() + self.retention)

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry[0]:
                del self._entries[key]

    def is_done(self, key: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry[0] and entry[1] > self._clock()

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, expires_at) in self._entries.items() if expires_at <= now]:
            del self._entries[key]
