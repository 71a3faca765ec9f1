"""Browser tests of the partner portal: Debian's Chromium driven by Playwright, against a real
Hookline server on loopback. SQLite only: the portal adds nothing database-specific."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.e2e.browser import ARTIFACTS, CHROMIUM, SAVED, launch_problem


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/hookline.db"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium; skipped locally when it is missing, a failure in CI."""
    problem = launch_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests need {CHROMIUM} in CI: {problem}")
        pytest.skip(f"browser tests need Chromium: {problem} (make test installs it as root)")
    from tests.e2e.browser import launch

    async with launch() as chromium:
        yield chromium


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SAVED:
        terminalreporter.write_line(f"portal screenshots ({len(SAVED)}) saved in {ARTIFACTS}/")
