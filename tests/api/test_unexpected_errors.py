"""An unexpected error is a 500 problem that says nothing of its cause, and it leaves the
client's keep-alive connection usable (Starlette re-raises after answering, and uvicorn drops
a connection whose request raised)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from hookline.api import create_app
from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN
from tests.support.keepalive import KeepAliveClient
from tests.support.net import free_port
from tests.support.polling import wait_until


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/hookline.db"  # nothing here touches the store


@pytest.fixture
async def port_of_a_broken_api(runtime: Runtime) -> AsyncIterator[int]:
    app = create_app(runtime.settings, runtime=runtime)

    @app.get("/api/v1/broken")
    async def broken() -> None:
        raise RuntimeError("secret detail of a bug")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started, what="the broken API to start")
    yield port
    server.should_exit = True
    await task


async def test_an_unexpected_error_is_a_500_problem_and_the_connection_stays_open(
        port_of_a_broken_api: int) -> None:
    async with KeepAliveClient("127.0.0.1", port_of_a_broken_api, ADMIN_TOKEN) as conn:
        failed = await conn.send("GET", "/api/v1/broken")
        after = await conn.send("GET", "/api/v1/health")

    assert failed.status == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["code"] == "internal_error"
    assert "secret detail" not in failed.text
    assert after.status == 200
