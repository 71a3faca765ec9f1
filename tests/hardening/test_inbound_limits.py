"""A real `hookline serve` bounds what a client may send before its request reaches the API:
headers that take too long (slowloris), too many headers, too many header bytes."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hookline.config import Settings
from tests.support.net import free_port
from tests.support.polling import wait_until
from tests.support.processes import HooklineProcess, hookline_env

DEFAULTS = Settings()
SLOW_CLIENTS = 100
CLOSE_SLACK = 1.5  # seconds past the header deadline a close may take on a loaded machine


class Served:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    async def exchange(self, request: bytes) -> bytes:
        """Send raw bytes on a fresh connection; return all the server answers before closing
        (or its first response, if it keeps the connection open)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request)
            await writer.drain()
            return await asyncio.wait_for(reader.read(64 * 1024), 10)
        finally:
            writer.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = free_port()
    server = HooklineProcess("serve", "--no-worker", env=hookline_env(
        database_url=f"sqlite:///{tmp_path}/hookline.db", data_dir=str(tmp_path),
        admin_token="inbound-admin-token", secret_key="inbound-secret-key", port=str(port)))
    await server.start()
    try:
        await server.wait_for_output("is running at")
        async with aiohttp.ClientSession() as http:
            await wait_until(lambda: _healthy(http, f"http://127.0.0.1:{port}"),
                             what="hookline serve to answer")
        yield Served(port)
    finally:
        await server.stop()


async def _healthy(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url + "/api/v1/health") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


def request_with(*headers: str) -> bytes:
    lines = ["GET /api/v1/health HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def slow_header_client(port: int) -> tuple[float, bytes]:
    """Start a request and send its headers one byte every 0.3 s, never finishing them;
    return how long the server kept the connection open, and what it answered."""
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    answer = b""

    async def dribble() -> None:
        while True:
            await asyncio.sleep(0.3)
            writer.write(b"a")
            await writer.drain()

    dribbling = asyncio.create_task(dribble())
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), 60):
            answer += chunk
    except (ConnectionError, TimeoutError):
        pass
    closed = time.monotonic()
    dribbling.cancel()
    await asyncio.gather(dribbling, return_exceptions=True)
    writer.close()
    return closed - opened, answer


async def timed_health(http: aiohttp.ClientSession, url: str) -> float:
    started = time.monotonic()
    async with http.get(url + "/api/v1/health") as response:
        assert response.status == 200
        await response.read()
    return time.monotonic() - started


async def test_slow_header_clients_are_closed_while_others_are_served(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        before = [await timed_health(http, served.url) for _ in range(30)]
        attack = asyncio.gather(*(slow_header_client(served.port)
                                  for _ in range(SLOW_CLIENTS)))
        during = []
        attack_task = asyncio.ensure_future(attack)
        while not attack_task.done():
            during.append(await timed_health(http, served.url))
            await asyncio.sleep(0.05)
        results = await attack_task

    bound = DEFAULTS.header_timeout + CLOSE_SLACK
    kept_open = sorted(seconds for seconds, _ in results)
    assert kept_open[-1] <= bound, f"slow clients kept open up to {kept_open[-1]:.1f} s"
    assert all(answer.startswith(b"HTTP/1.1 408 ") for _, answer in results)
    assert len(during) >= DEFAULTS.header_timeout * 5  # the normal client kept going
    assert statistics.median(during) <= 2 * statistics.median(before) + 0.02, (before, during)


async def test_a_header_block_over_the_byte_bound_answers_431(served: Served) -> None:
    big = "X-Big: " + "a" * DEFAULTS.max_header_bytes
    answer = await served.exchange(request_with(big))
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"application/problem+json" in answer and b'"status": 431' in answer


async def test_many_headers_over_the_byte_bound_answer_431(served: Served) -> None:
    count = DEFAULTS.max_header_count // 2
    size = DEFAULTS.max_header_bytes // count + 16
    headers = [f"X-H{i}: " + "b" * size for i in range(count)]
    assert (await served.exchange(request_with(*headers))).startswith(b"HTTP/1.1 431 ")


async def test_more_headers_than_the_count_bound_answer_431(served: Served) -> None:
    headers = [f"X-H{i}: v" for i in range(DEFAULTS.max_header_count)]  # + Host
    assert (await served.exchange(request_with(*headers))).startswith(b"HTTP/1.1 431 ")


async def test_headers_just_within_the_bounds_are_served(served: Served) -> None:
    headers = [f"X-H{i}: v" for i in range(DEFAULTS.max_header_count - 1)]  # + Host
    assert (await served.exchange(request_with(*headers))).startswith(b"HTTP/1.1 200 ")
    value = "c" * (DEFAULTS.max_header_bytes - 200)
    assert (await served.exchange(request_with("X-Long: " + value))).startswith(
        b"HTTP/1.1 200 ")


async def test_a_header_that_never_ends_is_cut_at_the_byte_bound(served: Served) -> None:
    """httptools holds a header still arriving in memory: the bound must hold before it
    ends, not only once it does."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    started = time.monotonic()
    # Just past the bound and no further: bytes arriving after the server closed would reset
    # the connection and discard its answer.
    for _ in range(DEFAULTS.max_header_bytes // 4096 + 1):
        writer.write(b"d" * 4096)
        await writer.drain()
        await asyncio.sleep(0.01)
    try:
        answer = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert time.monotonic() - started < DEFAULTS.header_timeout  # not the deadline's 408
