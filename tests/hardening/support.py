"""Helpers for the hardening tests: fake DNS, a guard that keeps traffic on loopback, raw TCP
receivers that misbehave on purpose, and a way to store endpoints past today's validation."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, ip_address
from typing import Any

import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from hookline import ids
from hookline.models import DeliveryOptions, Endpoint
from hookline.runtime import Runtime
from hookline.signing import generate_secret

Answers = list[list[str]] | BaseException


class FakeResolver(AbstractResolver):
    """DNS for tests. Each name maps to answers used in turn (the last one repeats) or to an
    exception to raise; any other name does not exist. Never asks real DNS."""

    def __init__(self, answers: dict[str, Answers] | None = None) -> None:
        self.answers = dict(answers or {})
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.lookups.append(host)
        entry = self.answers.get(host)
        if entry is None:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: Name or service not known")
        if isinstance(entry, BaseException):
            raise entry
        addresses = entry.pop(0) if len(entry) > 1 else entry[0]
        return [
            ResolveResult(hostname=host, host=address, port=port,
                          family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
            for address in addresses
        ]

    async def close(self) -> None:
        pass


@dataclass
class NetworkGuard:
    """Wraps the event loop's `sock_connect` so a test can only ever connect to loopback: a
    regression in the egress policy fails the test instead of sending packets elsewhere."""

    connected: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> NetworkGuard:
        loop = asyncio.get_running_loop()
        original = loop.sock_connect

        async def loopback_only(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple):
                host = str(address[0])
                if not _is_loopback(host):
                    self.refused.append(host)
                    raise OSError(errno.ENETUNREACH,
                                  f"test network guard: {host} is not loopback")
                self.connected.append(host)
            await original(sock, address)

        loop.sock_connect = loopback_only  # type: ignore[method-assign]
        self._loop = loop
        return self

    def uninstall(self) -> None:
        if self._loop is not None:
            del self._loop.sock_connect  # the instance attribute hid the loop's own method


def _is_loopback(host: str) -> bool:
    address = ip_address(host.partition("%")[0])
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def store_endpoint_unchecked(runtime: Runtime, app_id: str, url: str,
                                   options: DeliveryOptions | None = None, *,
                                   secret: str | None = None,
                                   headers: dict[str, str] | None = None) -> Endpoint:
    """An endpoint as the database may hold it whatever today's checks say (stored by an older
    version, or before the operator narrowed HOOKLINE_EGRESS_ALLOW): the worker must not
    trust it."""
    endpoint = Endpoint(id=ids.new_id(ids.ENDPOINT), app_id=app_id, url=url,
                        secret=secret or generate_secret(), headers=headers or {},
                        options=options or DeliveryOptions(),
                        created_at=time.time(), updated_at=time.time())
    return await runtime.store.insert_endpoint(endpoint)


StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A TCP server on loopback that speaks whatever `handler` writes: for receivers that
    break HTTP on purpose (resets, silence)."""

    def __init__(self, handler: StreamHandler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stopped by `stop`; asyncio would log a cancelled connection handler
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def site_port(site: web.TCPSite) -> int:
    """The port an aiohttp site bound (it was asked for port 0)."""
    server = site._server
    assert isinstance(server, asyncio.Server)
    return int(server.sockets[0].getsockname()[1])


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TlsReceiver:
    """A receiver on loopback with a certificate from a throwaway CA nobody trusts."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(await request.read())
        return web.Response(text="ok")

    async def start(self) -> TlsReceiver:
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site_port(site)
        return self

    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
