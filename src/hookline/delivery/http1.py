"""The HTTP/1.1 client behind `Sender`: one POST at a time per connection, connections kept
alive and reused per destination, responses parsed by httptools (llhttp, the C parser Node
uses) and cut at a byte limit.

A webhook request needs little of a general HTTP client: no redirects, cookies, compression,
streaming uploads or retries beyond the one below. What it needs is cheap: a delivery's
CPU is what bounds the worker (bench/RESULTS.md, "What limits the rates"), and aiohttp's client
cost about three times this one per request on loopback (88 against 29 µs, measured with
both against the same server). What it must keep is here:

- every new connection goes to an address the resolver handed back; `Sender` gives it the
  egress policy's resolver, so only checked addresses are ever connected to, and the checked
  answer is what is cached (for `dns_ttl` seconds, as aiohttp's connector did);
- TLS with certificate and host name verification when the context asks for them;
- an optional forward proxy: absolute-form requests for http://, a CONNECT tunnel for
  https://, with the proxy's credentials from its URL;
- a response body read up to `limit` bytes, the connection dropped if there is more;
- a request on a kept-alive connection that the server had closed in the meantime (it closed
  before a byte of an answer came) is sent once more on a new connection; nothing else is
  ever repeated;
- exactly the headers given, plus Host and Content-Length: what is recorded and shown is
  everything sent. No cookies are kept (one receiver's Set-Cookie must never ride along on
  the next request to that host, which may be another partner's endpoint), and no proxy
  settings are read from the environment.

The caller bounds the whole exchange in time (`asyncio.timeout`); a cancelled exchange
closes its connection.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools
from aiohttp.abc import AbstractResolver
from yarl import URL

from .egress import EgressBlocked, EgressPolicy

__all__ = ["CannotConnect", "ConnectionPool", "DNSError", "InvalidResponse", "Response",
           "ServerDisconnected"]

# Idle connections are closed after this long (aiohttp's default keep-alive, and below the
# 60-75 s most servers keep an idle connection).
KEEPALIVE_SECONDS = 15.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE = re.compile(r"[\r\n\x00]")
# What an answer may take on the wire besides the body kept: its status line and headers
# (aiohttp allowed 8 KiB a line), and framing such as chunk sizes and trailers. Past it the
# answer is refused: a receiver cannot make the worker buffer without bound.
MAX_OVERHEAD = 64 * 1024


class DNSError(OSError):
    """The destination's name did not resolve."""


class CannotConnect(OSError):
    """No connection could be opened to any address of the destination (the cause says
    why: refused, unreachable, a TLS handshake that failed)."""


class ServerDisconnected(ConnectionError):
    """The server closed the connection before a complete answer."""


class InvalidResponse(Exception):
    """What came back is not HTTP/1.x."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes  # at most the limit asked for
    retry_after: str | None


Key = tuple[str, str, int]  # scheme, host, port of the destination


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response being read on it."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._tunnel: bytearray | None = None  # the proxy's answer to CONNECT, while awaited
        self._reset_response(0)

    def _reset_response(self, limit: int) -> None:
        self._limit = limit
        self._body: list[bytes] = []
        self._size = 0
        self._retry_after: str | None = None
        self._received = False  # a byte of this response arrived
        self._budget = MAX_OVERHEAD + 8 * limit  # bytes this answer may still take on the wire
        self._until_eof = False  # the body ends when the connection does
        self._has_length = False

    # -- the exchange ---------------------------------------------------------------------
    @property
    def received(self) -> bool:
        return self._received

    async def exchange(self, data: bytes, limit: int) -> Response:
        assert self.transport is not None
        if self.closed:  # closed by the server before a byte was written
            raise ServerDisconnected("the connection closed before an answer")
        self._reset_response(limit)
        self.reusable = False
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(data)
        try:
            return await waiter
        finally:
            self._waiter = None

    async def open_tunnel(self, data: bytes) -> bytes:
        """Send a CONNECT request and return the proxy's answer head (through its blank
        line); a CONNECT answer has no body, which a response parser cannot know."""
        assert self.transport is not None
        self._tunnel = bytearray()
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(data)
        try:
            response = await waiter
        finally:
            self._waiter = None
            self._tunnel = None
        return response.body

    def abandon(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.abandon()  # bytes nobody asked for: the connection is not ours to reuse
            return
        self._received = True
        self._budget -= len(data)
        if self._tunnel is not None:
            self._tunnel += data
            end = self._tunnel.find(b"\r\n\r\n")
            if end >= 0:
                if len(self._tunnel) > end + 4:  # the tunnel spoke before TLS began
                    waiter.set_exception(InvalidResponse("the proxy sent data past its answer"))
                else:
                    waiter.set_result(Response(0, bytes(self._tunnel), None))
            elif self._budget < 0:
                waiter.set_exception(InvalidResponse("the proxy's answer is too large"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidResponse("the receiver switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(InvalidResponse(str(exc) or type(exc).__name__))
        if self._budget < 0 and not waiter.done():  # what was fed is one read, bounded
            self._fail(InvalidResponse("the answer's headers or framing are too large"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost says the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._until_eof and exc is None:
            self._finish(keep_alive=False)
        elif isinstance(exc, OSError):
            waiter.set_exception(exc)
        else:
            waiter.set_exception(ServerDisconnected(
                "the connection closed in the middle of the answer" if self._received
                else "the connection closed before an answer"))

    # -- httptools callbacks --------------------------------------------------------------
    def on_message_begin(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # a second answer to one request
            self.abandon()

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"retry-after":
            self._retry_after = value.decode("latin-1")
        elif lowered in (b"content-length", b"transfer-encoding"):
            self._has_length = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        self._until_eof = not self._has_length and status >= 200 and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        room = self._limit - self._size
        if len(body) > room:
            if room > 0:
                self._body.append(body[:room])
                self._size += room
            self._finish(keep_alive=False)  # more than we keep: the rest is not read
            return
        self._body.append(body)
        self._size += len(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self._reset_response(self._limit)
            self._received = True  # the server has the request: it is never sent again
            return
        self._finish(keep_alive=self._parser.should_keep_alive())

    def _finish(self, *, keep_alive: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self.reusable = keep_alive and not self.closed
        if not keep_alive and self.transport is not None:
            self.transport.abort()
            self.closed = True
        waiter.set_result(Response(self._parser.get_status_code(), b"".join(self._body),
                                   self._retry_after))

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abandon()


class ConnectionPool:
    """Kept-alive connections by destination, at most `limit` open at once."""

    def __init__(self, *, limit: int, resolver: AbstractResolver,
                 ssl_context: ssl.SSLContext, proxy: str | None = None,
                 proxy_resolver: AbstractResolver | None = None,
                 dns_ttl: float = 10.0, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.resolver = resolver
        self.ssl_context = ssl_context
        self.proxy = URL(proxy) if proxy else None
        self.proxy_resolver = proxy_resolver or resolver
        self.dns_ttl = dns_ttl
        self.keepalive = keepalive
        self._slots = asyncio.Semaphore(limit)
        self._limit = limit
        self._idle: dict[Key, list[_Connection]] = {}
        self._idle_count = 0
        self._swept = time.monotonic()
        self._addresses: dict[tuple[str, int], tuple[float, list[tuple[str, int]]]] = {}
        self._closed = False

    async def post(self, url: str, headers: Mapping[str, str], body: bytes,
                   limit: int) -> Response:
        """POST `body` to `url` with exactly `headers` (plus Host and Content-Length); the
        answer's body cut at `limit` bytes."""
        target = URL(url)
        scheme = target.scheme
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported URL scheme {scheme!r}")
        host = target.raw_host
        if not host:
            raise ValueError(f"URL {url!r} has no host")
        port = target.port or _DEFAULT_PORTS[scheme]
        key = (scheme, host, port)
        data = self._request(target, key, headers, body)
        async with self._slots:
            connection = self._idle_connection(key)
            if connection is not None:
                try:
                    return await self._exchange(connection, data, limit)
                except ConnectionError:
                    if connection.received:
                        raise
                    # The server closed the kept-alive connection as we wrote to it: nothing
                    # of this request was answered, so it goes once more, on a new one.
            connection = await self._open(key)
            return await self._exchange(connection, data, limit)

    async def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.abandon()
        self._idle.clear()
        self._idle_count = 0

    # -- requests -------------------------------------------------------------------------
    def _request(self, target: URL, key: Key, headers: Mapping[str, str],
                 body: bytes) -> bytes:
        scheme, host, _ = key
        authority = target.host_port_subcomponent or host
        lines = [f"POST {self._request_target(target, scheme)} HTTP/1.1", f"Host: {authority}"]
        for name, value in headers.items():
            if _UNSAFE.search(name) or _UNSAFE.search(value):
                raise ValueError(f"header {name!r} has CR, LF or NUL in it")
            lines.append(f"{name}: {value}")
        if self.proxy is not None and scheme == "http":
            lines.extend(self._proxy_credentials())
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _request_target(self, target: URL, scheme: str) -> str:
        if self.proxy is not None and scheme == "http":
            return str(target.with_fragment(None))  # a proxy is asked in absolute form
        return target.raw_path_qs or "/"

    def _proxy_credentials(self) -> list[str]:
        assert self.proxy is not None
        if self.proxy.user is None:
            return []
        token = base64.b64encode(
            f"{self.proxy.user}:{self.proxy.password or ''}".encode()).decode("ascii")
        return [f"Proxy-Authorization: Basic {token}"]

    async def _exchange(self, connection: _Connection, data: bytes, limit: int) -> Response:
        try:
            response = await connection.exchange(data, limit)
        except BaseException:
            connection.abandon()
            raise
        self._release(connection)
        return response

    # -- connections ----------------------------------------------------------------------
    def _idle_connection(self, key: Key) -> _Connection | None:
        connections = self._idle.get(key)
        now = time.monotonic()
        while connections:
            connection = connections.pop()  # the most recently used: the likeliest alive
            self._idle_count -= 1
            if not connection.closed and now - connection.idle_since < self.keepalive:
                return connection
            connection.abandon()
        return None

    def _release(self, connection: _Connection) -> None:
        now = time.monotonic()
        if now - self._swept > self.keepalive:
            self._sweep(now)
        if (not connection.reusable or connection.closed or self._closed
                or self._idle_count >= self._limit):
            connection.abandon()
            return
        connection.idle_since = now
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    def _sweep(self, now: float) -> None:
        """Close connections idle past the keep-alive, whichever destination they are for."""
        self._swept = now
        for key, connections in list(self._idle.items()):
            kept = []
            for connection in connections:
                if not connection.closed and now - connection.idle_since < self.keepalive:
                    kept.append(connection)
                else:
                    connection.abandon()
            self._idle_count -= len(connections) - len(kept)
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    async def _open(self, key: Key) -> _Connection:
        scheme, host, port = key
        if self.proxy is None:
            addresses = await self._resolve(self.resolver, host, port)
            return await self._connect(key, host, port, addresses, tls=scheme == "https")
        proxy_host = self.proxy.raw_host or ""
        proxy_port = self.proxy.port or _DEFAULT_PORTS.get(self.proxy.scheme, 80)
        literal = EgressPolicy.literal_host_address(proxy_host)
        addresses = ([(str(literal), socket.AF_INET if literal.version == 4 else socket.AF_INET6)]
                     if literal is not None
                     else await self._resolve(self.proxy_resolver, proxy_host, proxy_port))
        connection = await self._connect(key, proxy_host, proxy_port, addresses,
                                         tls=self.proxy.scheme == "https")
        if scheme == "https":
            await self._tunnel(connection, key)
        return connection

    async def _connect(self, key: Key, host: str, port: int,
                       addresses: list[tuple[str, int]], *, tls: bool) -> _Connection:
        loop = asyncio.get_running_loop()
        first_error: OSError | None = None
        for address, family in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: _Connection(key), address, port, family=family,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=host.strip("[]") if tls else None)
            except OSError as exc:  # ssl.SSLError is one too
                first_error = first_error or exc
                continue
            _no_delay(connection)
            return connection
        assert first_error is not None
        raise CannotConnect(first_error.errno, f"cannot connect to {host}:{port}: "
                                               f"{first_error}") from first_error

    async def _resolve(self, resolver: AbstractResolver, host: str,
                       port: int) -> list[tuple[str, int]]:
        now = time.monotonic()
        cached = self._addresses.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            answers = await resolver.resolve(host.strip("[]"), port, family=socket.AF_UNSPEC)
        except EgressBlocked:
            raise
        except (OSError, ValueError) as exc:
            raise DNSError(getattr(exc, "errno", None) or 0,
                           f"{host}: {getattr(exc, 'strerror', None) or exc}") from exc
        if not answers:
            raise DNSError(0, f"{host}: no addresses")
        addresses = [(answer["host"], answer["family"]) for answer in answers]
        if len(self._addresses) >= 1024:
            self._addresses.clear()
        self._addresses[(host, port)] = (now + self.dns_ttl, addresses)
        return addresses

    async def _tunnel(self, connection: _Connection, key: Key) -> None:
        """CONNECT through the proxy, then TLS with the destination inside the tunnel."""
        _, host, port = key
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}",
                 *self._proxy_credentials()]
        try:
            head = await connection.open_tunnel(("\r\n".join(lines) + "\r\n\r\n").encode())
            status = head.split(b"\r\n", 1)[0].split(b" ", 2)
            if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or status[1] != b"200":
                raise CannotConnect(0, "the proxy refused the tunnel: "
                                       + head.split(b"\r\n", 1)[0].decode("latin-1"))
            assert connection.transport is not None
            try:
                transport = await asyncio.get_running_loop().start_tls(
                    connection.transport, connection, self.ssl_context,
                    server_hostname=host)
            except OSError as exc:
                raise CannotConnect(exc.errno, f"cannot connect to {host}:{port} through "
                                               f"the proxy: {exc}") from exc
        except BaseException:
            connection.abandon()
            raise
        connection.transport = cast(asyncio.Transport, transport)


def _no_delay(connection: _Connection) -> None:
    """Headers and body go out in one write, so Nagle's algorithm only adds delay."""
    assert connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
