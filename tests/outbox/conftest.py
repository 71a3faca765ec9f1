"""Real things for the outbox: an application's own PostgreSQL schema with the outbox table,
a Hookline on a loopback port with one application and a recording endpoint, and a relay
between the two, publishing over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from hookline import outbox
from hookline.config import Settings
from hookline.relay import HttpSink, OutboxRelay, open_source
from hookline.runtime import Runtime
from tests.conftest import fresh_postgres_schema
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.receiver import Receiver

APP = "shop"


@pytest.fixture(scope="module")
def app_db(postgres_url: str) -> Iterator[str]:
    """The application's database: a fresh PostgreSQL schema holding the outbox table."""
    for url in fresh_postgres_schema(postgres_url):

        async def create(url: str = url) -> None:
            conn = await asyncpg.connect(url)
            try:
                await outbox.create_table(conn)
            finally:
                await conn.close()

        asyncio.run(create())
        yield url


@dataclass
class Hookline:
    api: ApiServer
    receiver: Receiver
    settings: Settings  # what a child process needs to publish straight into its database

    def events(self, test: str | None = None) -> list[dict[str, Any]]:
        """The payloads the endpoint received, in arrival order (those whose `test` field
        is `test`, when given: tests of a module share one Hookline)."""
        return [event for event, _ in self.deliveries(test)]

    def deliveries(self, test: str | None = None) -> list[tuple[dict[str, Any], str]]:
        """`events`, each with the id of the message that carried it."""
        received = [(json.loads(r.body)["data"], r.headers["webhook-id"])
                    for r in self.receiver.requests]
        return [(e, m) for e, m in received if test is None or e.get("test") == test]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hookline(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hookline]:
    """Hookline on SQLite with application `shop` and one endpoint at a recording receiver,
    shared by the tests of a module (whose tests run on its event loop)."""
    tmp_path = tmp_path_factory.mktemp("hookline")
    receiver = await Receiver().start()
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path)
    runtime = await Runtime.start(settings)
    await runtime.service.ensure_admin_token()
    api = await ApiServer(runtime, ADMIN_TOKEN).start()
    created = await api.post("/api/v1/app", {"name": "Shop", "uid": APP})
    assert created.status == 201, created.body
    endpoint = await api.post(f"/api/v1/app/{APP}/endpoint", {"url": receiver.url()})
    assert endpoint.status == 201, endpoint.body
    yield Hookline(api, receiver, settings)
    await api.stop()
    await runtime.stop()
    await receiver.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def relay(app_db: str, hookline: Hookline) -> AsyncIterator[OutboxRelay]:
    """A relay from `app_db` into `hookline` over its batch route."""
    relay = OutboxRelay(open_source(app_db), HttpSink(hookline.api.base_url, ADMIN_TOKEN),
                        poll_interval=0.2)
    task = asyncio.create_task(relay.run())
    yield relay
    relay.stop()
    await task
