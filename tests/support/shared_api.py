"""One running Hookline per test module and database: for modules whose tests each need only
a few fresh rows, not a fresh database (the Svix drop-in tests).

    pytestmark = pytest.mark.asyncio(loop_scope="module")
    api = shared_api_fixture()

The fixture runs once on SQLite and once on PostgreSQL (which must be reachable in CI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings


def module_database_fixture() -> Any:
    """A module-scoped `module_database_url` fixture: one database per test module, on SQLite
    and on PostgreSQL (which must be reachable in CI)."""

    @pytest.fixture(scope="module", params=["sqlite", "postgres"])
    def module_database_url(request: pytest.FixtureRequest,
                            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path_factory.mktemp('db')}/hookline.db"
        else:
            from tests.conftest import fresh_postgres_schema

            yield from fresh_postgres_schema(request.getfixturevalue("postgres_url"))

    return module_database_url


def shared_api_fixture(**settings: Any) -> Any:
    """A module-scoped `api` fixture (an `ApiServer` with its runtime and worker), built with
    these settings overrides, parametrized over both databases."""
    module_database_url = module_database_fixture()

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def api(module_database_url: str,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiServer]:
        config = make_settings(module_database_url, tmp_path_factory.mktemp("data"), **settings)
        runtime = await Runtime.start(config)
        await runtime.service.ensure_admin_token()
        server = await ApiServer(runtime, ADMIN_TOKEN).start()
        yield server
        await server.stop()
        await runtime.stop()

    return module_database_url, api
