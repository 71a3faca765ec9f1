"""`hookline serve --api-processes 2`: two processes answer on one socket, and what one of
them caches is never used stale after a change made through the other.

Which process accepts a connection is the kernel's choice; the tests choose it by stopping the
other one (SIGSTOP) and opening a new connection per request."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hookline.config import Settings
from tests.support.api import make_settings
from tests.support.polling import wait_until
from tests.support.served import ServeProcess

pytestmark = pytest.mark.slow

SCHEMA = {"type": "object", "properties": {"n": {"type": "string"}}, "required": ["n"]}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, strict_event_types=True, shutdown_grace=1.0)


@pytest.fixture
async def served(settings: Settings, tmp_path: Path) -> AsyncIterator[ServeProcess]:
    server = await ServeProcess(settings, tmp_path, "two-apis", worker=False,
                                api_processes="2", strict_event_types="true").start()
    yield server  # serve answers once every API process has started
    await server.stop()


def _api_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children
            if b"api-process" in Path(f"/proc/{child}/cmdline").read_bytes()]


@contextmanager
def _only(served: ServeProcess, which: str) -> Iterator[None]:
    """Only `which` ("serve" or "child") accepts connections while inside."""
    assert served.process is not None
    [child] = _api_children(served.process.pid)
    stopped = child if which == "serve" else served.process.pid
    os.kill(stopped, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stopped, signal.SIGCONT)


async def _call(served: ServeProcess, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One request on a connection of its own (a kept-alive one would stay with its process)."""
    headers = {"authorization": f"Bearer {served.settings.admin_token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        async with s.request(method, f"{served.base_url}/api/v1{path}", json=body,
                             headers=headers, timeout=aiohttp.ClientTimeout(total=20)) as r:
            return r.status, await r.json(content_type=None)


async def _publish(served: ServeProcess, app_id: str, event_type: str, n: object) -> int:
    status, _ = await _call(served, "POST", f"/app/{app_id}/msg",
                            {"eventType": event_type, "payload": {"n": n}})
    return status


async def test_both_api_processes_answer_and_honour_each_others_changes(
    served: ServeProcess,
) -> None:
    status, app = await _call(served, "POST", "/app", {"name": "two"})
    assert status == 201
    for name in ("a.b", "c.d"):
        assert (await _call(served, "POST", "/event-type",
                            {"name": name, "description": name}))[0] == 201

    with _only(served, "child"):  # the child caches the catalogue
        assert await _publish(served, app["id"], "a.b", 1) == 202
        assert await _publish(served, app["id"], "c.d", 1) == 202
    with _only(served, "serve"):  # serve's own process changes a schema
        status, _ = await _call(served, "PUT", "/event-type/a.b",
                                {"description": "a.b", "schemas": {"1": SCHEMA}})
        assert status == 200
    with _only(served, "child"):
        assert await _publish(served, app["id"], "a.b", 1) == 422

    with _only(served, "serve"):  # and the other way round
        assert await _publish(served, app["id"], "c.d", 1) == 202
    with _only(served, "child"):
        status, _ = await _call(served, "PUT", "/event-type/c.d",
                                {"description": "c.d", "schemas": {"1": SCHEMA}})
        assert status == 200
    with _only(served, "serve"):
        assert await _publish(served, app["id"], "c.d", 1) == 422
        assert await _publish(served, app["id"], "c.d", "1") == 202

    await _a_killed_api_process_is_started_again(served)


async def _a_killed_api_process_is_started_again(served: ServeProcess) -> None:
    assert served.process is not None
    [child] = _api_children(served.process.pid)
    os.kill(child, signal.SIGKILL)

    def replaced() -> bool:
        return _api_children(served.process.pid) not in ([], [child])  # type: ignore[union-attr]

    await wait_until(replaced, timeout=15, what="a new API process")
    await wait_until(lambda: served.output().count("Application startup complete") == 3,
                     timeout=30, what="the new API process to start")
    assert f"API process {child} exited" in served.output()
    with _only(served, "child"):
        assert (await _call(served, "GET", "/health", None))[0] == 200
