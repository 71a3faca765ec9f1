"""Fixtures that give real things: databases of each kind, a receiver, a running Hookline."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.config import Settings
from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.receiver import Receiver

POSTGRES_ENV = "HOOKLINE_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_reachable(url: str) -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server to test against. In CI it must be there: tests fail, not skip."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if IN_CI:
            pytest.fail(f"{POSTGRES_ENV} is not set in CI")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    problem = _postgres_reachable(url)
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {url} is unreachable in CI: {problem}")
        pytest.skip(f"PostgreSQL at {url} is unreachable: {problem}")
    return url


def fresh_postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections use a new, empty schema; dropped afterwards."""
    import asyncpg

    schema = "t_" + uuid.uuid4().hex[:12]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(base_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}search_path={schema}"
    finally:
        asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hookline.db"
    else:
        base = request.getfixturevalue("postgres_url")
        yield from fresh_postgres_schema(base)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = await Receiver().start()
    yield rec
    await rec.stop()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    await rt.service.ensure_admin_token()
    yield rt
    await rt.stop()


@pytest.fixture
async def control(settings: Settings) -> AsyncIterator[Runtime]:
    """The test's own view of the database, with no worker of its own (the workers under test
    run in other processes)."""
    rt = await Runtime.start(settings, with_worker=False)
    yield rt
    await rt.stop()


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[ApiServer]:
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield server
    await server.stop()


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
