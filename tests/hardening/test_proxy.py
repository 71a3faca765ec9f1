"""HOOKLINE_PROXY_URL: every delivery goes through the operator's HTTP proxy, and the sender
still checks each destination itself, since the connection it opens only reaches the proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from ipaddress import ip_address
from pathlib import Path

import pytest
from yarl import URL

from hookline.config import Settings
from hookline.models import DeliveryOptions, DeliveryStatus
from tests.hardening.conftest import StartRuntime
from tests.hardening.support import FakeResolver, TlsReceiver, store_endpoint_unchecked
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

PUBLIC = "93.184.216.34"  # what our fake DNS says; only the proxy knows better


class ForwardProxy:
    """A real forward proxy on loopback. Absolute-form requests are relayed to their origin
    with a `Via` header added; CONNECT opens a tunnel. It resolves names with its own table and
    records every request it relays."""

    def __init__(self, hosts: dict[str, str]) -> None:
        self.hosts = hosts
        self.relayed: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, fields = head[:-4].partition(b"\r\n")
            method, target, version = line.decode("latin-1").split(" ")
            self.relayed.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream_reader, upstream = await self._open(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = URL(target)
                upstream_reader, upstream = await self._open(url.host or "", url.port or 80)
                kept = [f for f in fields.split(b"\r\n")
                        if not f.lower().startswith((b"connection:", b"proxy-connection:"))]
                upstream.write(f"{method} {url.raw_path_qs} {version}\r\n".encode()
                               + b"\r\n".join([*kept, b"Via: 1.1 test-proxy",
                                               b"Connection: close"]) + b"\r\n\r\n")
            await _relay(reader, writer, upstream_reader, upstream)
        except UnknownHost:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _open(self, host: str, port: int
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect by the proxy's own table: it never asks real DNS."""
        address = self.hosts.get(host, host)
        try:
            ip_address(address.strip("[]"))
        except ValueError:
            raise UnknownHost(host) from None
        return await asyncio.open_connection(address.strip("[]"), port)


class UnknownHost(Exception):
    pass


async def _relay(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter,
                 upstream_reader: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()

    to_origin = asyncio.create_task(copy(client_reader, upstream))
    try:
        await copy(upstream_reader, client)  # the answer ends the exchange
    finally:
        to_origin.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await to_origin
        upstream.close()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    relay = await ForwardProxy({"hooks.example.test": "127.0.0.1",
                                "secure.example.test": "127.0.0.1",
                                "internal.example.test": "127.0.0.1"}).start()
    yield relay
    await relay.stop()


def proxied_settings(sqlite_url: str, data_dir: Path, proxy: ForwardProxy) -> Settings:
    """As shipped (nothing internal allowed), plus the proxy, set the way operators set it."""
    return Settings.from_env({
        "HOOKLINE_DATABASE_URL": sqlite_url, "HOOKLINE_DATA_DIR": str(data_dir),
        "HOOKLINE_SECRET_KEY": "k", "HOOKLINE_ADMIN_TOKEN": "t",
        "HOOKLINE_POLL_INTERVAL": "0.2", "HOOKLINE_PROXY_URL": proxy.url()})


def public_dns() -> FakeResolver:
    return FakeResolver({"hooks.example.test": [[PUBLIC]], "secure.example.test": [[PUBLIC]],
                         "internal.example.test": [["10.0.0.7"]],
                         "metadata.example.test": [["169.254.169.254"]]})


async def test_deliveries_go_through_the_proxy(
    start_runtime: StartRuntime, sqlite_url: str, tmp_path: Path, proxy: ForwardProxy,
    receiver: Receiver,
) -> None:
    tls = await TlsReceiver().start()
    try:
        runtime = await start_runtime(proxied_settings(sqlite_url, tmp_path, proxy),
                                      resolver=public_dns())
        app = await runtime.service.create_app("proxied")
        plain = f"http://hooks.example.test:{receiver.port}/hook"
        secure = f"https://secure.example.test:{tls.port}/hook"
        for url in (plain, secure):
            await runtime.service.create_endpoint(app.id, url=url)

        message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
        attempts = await attempts_recorded(runtime.service, app.id, 2, message_id=message.id)

        assert [a.succeeded for a in attempts] == [True, True]
        [request] = receiver.requests
        assert request.headers["Via"] == "1.1 test-proxy"
        assert request.headers["webhook-id"] == message.id
        assert len(tls.requests) == 1
        assert sorted(proxy.relayed) == [f"CONNECT secure.example.test:{tls.port}",
                                         f"POST {plain}"]
    finally:
        await tls.stop()


async def test_blocked_destinations_stay_blocked_behind_a_proxy(
    start_runtime: StartRuntime, sqlite_url: str, tmp_path: Path, proxy: ForwardProxy,
    receiver: Receiver,
) -> None:
    runtime = await start_runtime(proxied_settings(sqlite_url, tmp_path, proxy),
                                  resolver=public_dns())
    app = await runtime.service.create_app("proxied")
    blocked = {
        f"http://127.0.0.1:{receiver.port}/hook": "127.0.0.1 is a loopback address",
        f"http://0x7f.1:{receiver.port}/hook": "0x7f.1 is 127.0.0.1",
        f"http://localhost:{receiver.port}/hook": "localhost means 127.0.0.1",
        f"http://internal.example.test:{receiver.port}/hook":
            "internal.example.test resolves to 10.0.0.7",
        "http://metadata.example.test/": "resolves to 169.254.169.254",
        "https://169.254.169.254/": "the link-local cloud metadata address",
    }
    for url in blocked:
        await store_endpoint_unchecked(runtime, app.id, url,
                                       DeliveryOptions(retry_schedule=[0.1]))

    message = (await runtime.service.publish(app.id, "invoice.paid", {"n": 1})).message
    attempts = await attempts_recorded(runtime.service, app.id, len(blocked),
                                       message_id=message.id)
    # Recorded with its attempt: a retryable outcome would have left the delivery pending.
    assert await runtime.store.delivery_counts() == {str(DeliveryStatus.FAILED): len(blocked)}

    assert len(attempts) == len(blocked)
    outcomes = {a.url: (a.error_kind, reason in (a.error_detail or ""))
                for a in attempts for reason in [blocked[a.url]]}
    assert outcomes == {url: ("blocked", True) for url in blocked}
    assert await runtime.store.delivery_counts() == {str(DeliveryStatus.FAILED): len(blocked)}
    assert proxy.relayed == [] and receiver.requests == []
