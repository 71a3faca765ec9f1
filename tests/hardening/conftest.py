"""Fixtures for the hardening tests: SQLite only (the protections live above the store, except
where a test says otherwise), loopback NOT allowed unless a test allows it, and a network guard
that keeps every connection on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hookline.config import Settings
from hookline.runtime import Runtime
from tests.hardening.support import FakeResolver, NetworkGuard
from tests.support.api import ApiServer, make_settings

StartRuntime = Callable[..., Awaitable[Runtime]]
ServeApi = Callable[[Runtime], Awaitable[ApiServer]]


@pytest.fixture
async def guard() -> AsyncIterator[NetworkGuard]:
    installed = NetworkGuard().install()
    yield installed
    installed.uninstall()
    assert installed.refused == [], f"tried to leave loopback: {installed.refused}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/hookline.db"


@pytest.fixture
def strict_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """Settings as shipped: no blocked network is allowed, loopback included."""
    return make_settings(sqlite_url, tmp_path, egress_allow=())


@pytest.fixture
def database_before_runtimes(request: pytest.FixtureRequest) -> None:
    """The test's `database_url`, if it uses one, set up before `start_runtime` so it is torn
    down after it: a worker still running must never find its PostgreSQL schema dropped,
    whatever order the test lists its fixtures in."""
    if "database_url" in request.fixturenames:
        request.getfixturevalue("database_url")


@pytest.fixture
async def start_runtime(guard: NetworkGuard,
                        database_before_runtimes: None) -> AsyncIterator[StartRuntime]:
    """Start runtimes (with a worker unless told otherwise, and a Sender using `resolver`);
    all are stopped at the end of the test."""
    started: list[Runtime] = []

    async def start(settings: Settings, *, resolver: FakeResolver | None = None,
                    **kwargs: Any) -> Runtime:
        runtime = await Runtime.start(settings, resolver=resolver, **kwargs)
        started.append(runtime)
        return runtime

    yield start
    for runtime in reversed(started):
        await runtime.stop()


@pytest.fixture
async def serve_api() -> AsyncIterator[ServeApi]:
    """Serve the real HTTP API of a runtime on a free loopback port, with its admin token."""
    servers: list[ApiServer] = []

    async def serve(runtime: Runtime) -> ApiServer:
        await runtime.service.ensure_admin_token()
        server = await ApiServer(runtime, runtime.settings.admin_token or "").start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        await server.stop()
