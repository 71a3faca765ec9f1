"""Building a database as an older Hookline left it: every migration but one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hookline.store.dialect import Dialect


@contextmanager
def without_migration(monkeypatch: pytest.MonkeyPatch, number: str) -> Iterator[None]:
    """Inside, stores skip migration `number` (e.g. "0014"); after, it runs as usual, so the
    next start applies it to what was written in between."""
    original = Dialect.runs_migration
    monkeypatch.setattr(Dialect, "runs_migration",
                        lambda self, name: not name.startswith(number)
                        and original(self, name))
    try:
        yield
    finally:
        monkeypatch.setattr(Dialect, "runs_migration", original)
