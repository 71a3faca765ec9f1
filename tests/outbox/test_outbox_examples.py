"""The FastAPI + SQLAlchemy and Django examples, run as scripts against a real PostgreSQL and
driven over loopback HTTP: a completed order's event reaches the partner endpoint through the
relay; an order whose transaction rolled back is never heard of."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from hookline.relay import OutboxRelay, outbox_backlog
from tests.outbox.conftest import Hookline
from tests.outbox.drivers import split_schema
from tests.support.net import free_port
from tests.support.polling import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = {"fastapi-sqlalchemy": "outbox_fastapi_sqlalchemy.py", "django": "outbox_django.py"}


def example_database_url(example: str, app_db: str) -> str:
    if example == "django":
        return app_db  # the example's own parser takes ?search_path=
    base, schema = split_schema(app_db)
    return (base.replace("postgresql://", "postgresql+psycopg://")
            + f"?options=-csearch_path%3D{schema}")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=sorted(SCRIPTS))
async def shop(request: pytest.FixtureRequest, app_db: str) -> AsyncIterator[str]:
    """The example application on a free port; its URL for orders."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": example_database_url(request.param, app_db)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / SCRIPTS[request.param]), str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    started = await asyncio.wait_for(process.stdout.readline(), 60)
    assert b"shop on" in started, (await process.stderr.read()).decode()  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/orders"

    async def listening() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as _:
                return True
        except aiohttp.ClientConnectionError:
            return False

    await wait_until(listening, 30, "the example to listen")
    yield url
    process.terminate()
    await process.wait()


async def order(url: str, item: str, fail: bool = False) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            url, json={"item": item, "fail": fail}) as answer:
        return answer.status


async def test_a_completed_order_is_delivered_and_a_rolled_back_one_never(
        shop: str, app_db: str, hookline: Hookline, relay: OutboxRelay) -> None:
    run = uuid.uuid4().hex[:8]
    statuses = [await order(shop, f"{run}-kept"), await order(shop, f"{run}-failed", True),
                await order(shop, f"{run}-later")]

    def delivered() -> list[str]:
        return [e["item"] for e in hookline.events() if e.get("item", "").startswith(run)]

    await wait_until(lambda: len(delivered()) >= 2, what="two orders' events")
    await wait_until(lambda: _outbox_empty(app_db), what="an empty outbox")
    published = (await hookline.api.get("/api/v1/app/shop/msg?limit=250")).body["data"]
    assert statuses == [201, 500, 201]
    assert sorted(m["payload"]["item"] for m in published
                  if m["payload"].get("item", "").startswith(run)) == [f"{run}-kept",
                                                                        f"{run}-later"]
    assert sorted(delivered()) == [f"{run}-kept", f"{run}-later"]


async def _outbox_empty(url: str) -> bool:
    return (await outbox_backlog(url)).pending == 0
