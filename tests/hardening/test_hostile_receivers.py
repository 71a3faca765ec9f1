"""Receivers are outsiders and may be hostile or broken: each kind of failure is bounded in
time and memory, recorded as its own error kind, and a receiver's request to slow down is
honoured within the schedule's bounds."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from hookline.config import Settings
from hookline.models import DeliveryOptions
from tests.hardening.conftest import StartRuntime
from tests.hardening.support import (
    FakeResolver,
    RawServer,
    StreamHandler,
    closed_port,
    read_request_head,
)
from tests.support.api import make_settings
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

LOOPBACK = ("127.0.0.0/8",)


@pytest.fixture
def loopback_settings(strict_settings: Settings) -> Settings:
    return strict_settings.with_(egress_allow=LOOPBACK)


async def answer_one_byte_at_a_time(reader: asyncio.StreamReader,
                                    writer: asyncio.StreamWriter) -> None:
    await read_request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while True:
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(0.2)


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request_head(reader)
    await asyncio.sleep(3600)


async def reset_the_connection(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    await read_request_head(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # linger 0: the kernel answers with RST, not FIN


@pytest.mark.parametrize("behaviour", [answer_one_byte_at_a_time, never_answer])
async def test_endpoint_timeout_is_a_total_deadline(
    start_runtime: StartRuntime, loopback_settings: Settings,
    behaviour: StreamHandler,
) -> None:
    server = await RawServer(behaviour).start()
    try:
        runtime = await start_runtime(loopback_settings)
        app = await runtime.service.create_app("slow")
        await runtime.service.create_endpoint(
            app.id, url=server.url(), options=DeliveryOptions(retry_schedule=[], timeout=1.0))

        message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
        [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=message.id)
    finally:
        await server.stop()

    assert attempt.error_kind == "timeout"
    assert 950 <= attempt.duration_ms < 2000, attempt.duration_ms


async def test_only_the_first_4_kib_of_a_response_body_is_kept(
    start_runtime: StartRuntime, loopback_settings: Settings, receiver: Receiver,
) -> None:
    receiver.on("/chatty", lambda _: web.Response(text="a" * 4096 + "b" * 6000))
    runtime = await start_runtime(loopback_settings)
    app = await runtime.service.create_app("chatty")
    await runtime.service.create_endpoint(app.id, url=receiver.url("/chatty"))

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=message.id)

    assert attempt.succeeded and attempt.response_body == "a" * 4096


async def test_each_network_failure_is_recorded_as_its_own_error_kind(
    start_runtime: StartRuntime, loopback_settings: Settings,
) -> None:
    resets = await RawServer(reset_the_connection).start()
    silent = await RawServer(never_answer).start()
    resolver = FakeResolver({
        "gone.example.test": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "broken-dns.example.test": OSError("resolver unreachable"),
    })
    try:
        runtime = await start_runtime(loopback_settings, resolver=resolver)
        app = await runtime.service.create_app("failures")
        expected = {
            "http://gone.example.test/hook": "dns",
            "http://broken-dns.example.test/hook": "dns",
            f"http://127.0.0.1:{closed_port()}/hook": "connection_refused",
            resets.url(): "connection_reset",
            silent.url(): "timeout",
        }
        for url in expected:
            await runtime.service.create_endpoint(
                app.id, url=url, options=DeliveryOptions(retry_schedule=[], timeout=1.0))

        message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
        attempts = await attempts_recorded(runtime.service, app.id, len(expected),
                                           message_id=message.id)
    finally:
        await resets.stop()
        await silent.stop()

    assert {a.url: a.error_kind for a in attempts} == expected
    assert all(a.error_detail for a in attempts)


@pytest.mark.parametrize(("status", "retry_after"), [
    pytest.param(429, lambda: "1", id="429-seconds"),
    pytest.param(503, lambda: "1", id="503-seconds"),
    pytest.param(503, lambda: email.utils.formatdate(time.time() + 2, usegmt=True),
                 id="503-http-date"),
])
async def test_retry_after_holds_the_next_attempt_back(
    start_runtime: StartRuntime, loopback_settings: Settings, receiver: Receiver,
    status: int, retry_after: Callable[[], str],
) -> None:
    answers = iter([status])
    receiver.on("/busy", lambda _: web.Response(
        status=next(answers, 200), headers={"Retry-After": retry_after()}))
    runtime = await start_runtime(loopback_settings)
    app = await runtime.service.create_app("busy")
    await runtime.service.create_endpoint(
        app.id, url=receiver.url("/busy"), options=DeliveryOptions(retry_schedule=[0.1, 10]))

    await runtime.service.publish(app.id, "invoice.paid", {"n": 1})
    first, second = await receiver.wait_for(2, "/busy", timeout=6)

    assert second.at - first.at >= 0.95, second.at - first.at


async def test_retry_after_is_clamped_to_the_longest_delay_of_the_schedule(
    start_runtime: StartRuntime, loopback_settings: Settings, receiver: Receiver,
) -> None:
    answers = iter([429])
    receiver.on("/park", lambda _: web.Response(status=next(answers, 200),
                                                headers={"Retry-After": "86400"}))
    runtime = await start_runtime(loopback_settings)
    app = await runtime.service.create_app("park")
    await runtime.service.create_endpoint(
        app.id, url=receiver.url("/park"), options=DeliveryOptions(retry_schedule=[0.1, 0.8]))

    await runtime.service.publish(app.id, "invoice.paid", {"n": 1})
    first, second = await receiver.wait_for(2, "/park", timeout=5)

    assert 0.75 <= second.at - first.at < 3, second.at - first.at


@pytest.mark.parametrize("tail", [b"\x00", b"\xff\xfe"], ids=["nul", "not-utf8"])
async def test_response_body_with_bytes_a_database_refuses_is_stored_all_the_same(
    start_runtime: StartRuntime, database_url: str, tmp_path: Path, receiver: Receiver,
    tail: bytes,
) -> None:
    """PostgreSQL refuses NUL in text: one such answer must not stall the recording of every
    attempt batched with it."""
    receiver.on("/odd", lambda _: web.Response(status=500, body=b"nope" + tail))
    runtime = await start_runtime(make_settings(database_url, tmp_path))
    app = await runtime.service.create_app("odd")
    await runtime.service.create_endpoint(app.id, url=receiver.url("/odd"),
                                          options=DeliveryOptions(retry_schedule=[]))

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    [attempt] = await attempts_recorded(runtime.service, app.id, 1, message_id=message.id)

    assert attempt.status_code == 500 and attempt.response_body.startswith("nope")
