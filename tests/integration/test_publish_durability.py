"""A publish answered 2xx is durable with its whole fan-out, even if the server dies next."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from hookline.config import Settings
from tests.support.api import make_settings
from tests.support.receiver import Received, Receiver
from tests.support.served import ServeProcess

pytestmark = pytest.mark.slow

ENDPOINTS = ("/one", "/two", "/three")
BURST = 400
IN_FLIGHT = 16
KILL_AFTER = 120  # answered publishes before the SIGKILL: the burst is well under way


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, lease_seconds=3.0)


async def test_serve_killed_mid_burst_delivers_every_answered_publish_to_every_endpoint(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    # On PostgreSQL, two API processes: the kill lands on serve while its other API process is
    # answering too (that one gets SIGTERM from Linux and may still answer what it holds:
    # durably). SQLite serves from one process by default (docs/process-layout.md); under a
    # loaded suite its second process once answered the first request with a plain 500.
    api_processes = "1" if settings.database_url.startswith("sqlite") else "2"
    first = await ServeProcess(settings, tmp_path, "serve-1",
                               api_processes=api_processes).start()
    try:
        status, app = await first.call("POST", "/app", {"name": "burst"})
        assert status == 201
        for path in ENDPOINTS:
            status, _ = await first.call("POST", f"/app/{app['id']}/endpoint",
                                         {"url": receiver.url(path)})
            assert status == 201
        answered = await _publish_until_killed(first, app["id"])
    finally:
        await first.kill()
    assert KILL_AFTER <= len(answered) < BURST, "the kill did not land mid-burst"

    second = await ServeProcess(settings, tmp_path, "serve-2", api_processes="2").start()
    try:
        missing = await _wait_for_arrivals(receiver, answered)
    finally:
        await second.stop()
    assert missing == {}, f"answered 2xx but never delivered: {missing}"


async def _publish_until_killed(server: ServeProcess, app_id: str) -> set[str]:
    """Publish the burst from IN_FLIGHT lanes and SIGKILL the server once KILL_AFTER were
    answered; returns the ids of the messages answered 2xx."""
    answered: set[str] = set()
    numbers = iter(range(BURST))
    killed = asyncio.Event()

    async def lane() -> None:
        for n in numbers:
            try:
                status, body = await server.call(
                    "POST", f"/app/{app_id}/msg", {"eventType": "burst.item", "payload": {"n": n}})
            except (TimeoutError, aiohttp.ClientError):
                return  # the server is gone: this publish was never answered
            if 200 <= status < 300:
                answered.add(body["id"])
            if len(answered) >= KILL_AFTER and not killed.is_set():
                killed.set()
                assert server.process is not None
                server.process.kill()  # SIGKILL, with other publishes still in flight

    await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
    return answered


async def _wait_for_arrivals(receiver: Receiver, answered: set[str],
                             timeout: float = 60.0) -> dict[str, int]:
    """Poll until every answered message reached every endpoint; what is still missing
    (path -> count) when the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        missing = {path: len(answered - {_message_id(r) for r in receiver.at(path)})
                   for path in ENDPOINTS}
        missing = {path: count for path, count in missing.items() if count}
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.1)


def _message_id(received: Received) -> str | None:
    return next((v for k, v in received.headers.items() if k.lower() == "webhook-id"), None)
