"""The sender's HTTP/1.1 client (`hookline.delivery.http1`) against raw loopback servers that
answer exactly as scripted, on both event loops Hookline runs on (asyncio's in tests and
embedded use, uvloop's in `hookline serve` and `hookline worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvloop

from hookline.delivery.egress import EgressPolicy, PolicyResolver
from hookline.delivery.http1 import (
    ConnectionPool,
    InvalidResponse,
    Response,
    ServerDisconnected,
)
from tests.hardening.support import FakeResolver

LOOPS = ["asyncio", "uvloop"]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

# What a scripted server does with each request it reads: the bytes to answer, and whether
# to close the connection afterwards.
Script = Callable[[int, bytes], tuple[bytes, bool]]


@dataclass
class ScriptedServer:
    """Reads request heads and bodies (by Content-Length) and answers per `script`, given the
    number of the request on the server and its head."""

    script: Script
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    closed_by_client: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.bodies.append(await reader.readexactly(length))
                self.heads.append(head)
                answer, close = self.script(len(self.heads), head)
                writer.write(answer)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by_client += 1
        finally:
            writer.close()


def pool(**kwargs: object) -> ConnectionPool:
    context = ssl.create_default_context()
    # As the sender builds it: loopback allowed, no name resolves.
    resolver = PolicyResolver(EgressPolicy.from_cidrs("127.0.0.0/8"), FakeResolver({}))
    return ConnectionPool(limit=8, resolver=resolver, ssl_context=context,
                          **kwargs)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(script: Script, **pool_options: object
                  ) -> AsyncIterator[tuple[ScriptedServer, ConnectionPool]]:
    """A scripted server and a pool to reach it, both closed when the block ends."""
    server = await ScriptedServer(script).start()
    connections = pool(**pool_options)
    try:
        yield server, connections
    finally:
        await connections.close()
        await server.stop()


def run(loop: str, test: Callable[[], Awaitable[None]]) -> None:
    if loop == "uvloop":
        uvloop.run(test())
    else:
        asyncio.run(test())


async def post(connections: ConnectionPool, url: str, body: bytes = b"{}",
               limit: int = 4096) -> Response:
    return await connections.post(url, {"content-type": "application/json"}, body, limit)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_kept_alive_connection_serves_the_next_request(loop: str) -> None:
    async def test() -> None:
        async with serving(lambda n, _: (
            b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy", False
        )) as (server, connections):
            first = await post(connections, server.url("/a?b=1"), b'{"n":1}')
            second = await post(connections, server.url("/a?b=1"), b'{"n":2}')

        assert (first.status, first.body, first.retry_after) == (503, b"busy", "7")
        assert second == first
        assert server.connections == 1
        assert server.bodies == [b'{"n":1}', b'{"n":2}']
        assert server.heads[0] == (
            f"POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "content-type: application/json\r\nContent-Length: 7\r\n\r\n").encode()

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_request_on_a_connection_the_server_closed_meanwhile_goes_on_a_new_one(
    loop: str,
) -> None:
    async def test() -> None:
        # Keep-alive answers, but the server closes each connection right after answering.
        async with serving(lambda n, _: (OK, True)) as (server, connections):
            first = await post(connections, server.url())
            await asyncio.sleep(0.05)  # the close reaches the idle connection
            second = await post(connections, server.url())
            await asyncio.sleep(0)
            # Nothing tells the client before it writes: the third request finds the close only
            # once it has been sent.
            third = await post(connections, server.url())

        assert [r.status for r in (first, second, third)] == [200, 200, 200]
        assert len(server.heads) == 3

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_fresh_connection_closed_without_an_answer_is_not_sent_again(loop: str) -> None:
    async def test() -> None:
        async with serving(lambda n, _: (b"", True)) as (server, connections):
            with pytest.raises(ServerDisconnected):
                await post(connections, server.url())
        assert len(server.heads) == 1

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_body_past_the_limit_is_cut_and_its_connection_dropped(loop: str) -> None:
    async def test() -> None:
        big = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000
        async with serving(lambda n, _: (big if n == 1 else OK, False)) as (server, connections):
            cut = await post(connections, server.url(), limit=100)
            after = await post(connections, server.url(), limit=100)

        assert (cut.status, cut.body) == (200, b"x" * 100)
        assert after.body == b"ok"
        assert server.connections == 2

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize(("answer", "body"), [
    pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", b"until the end",
                 id="until-close"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world", id="chunked"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n"
                 b"\r\ndone", b"done", id="interim-100"),
    pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", b"", id="no-content"),
])
def test_every_way_a_body_can_end_is_read(loop: str, answer: bytes, body: bytes) -> None:
    async def test() -> None:
        async with serving(lambda n, _: (answer, True)) as (server, connections):
            response = await post(connections, server.url())
        assert response.body == body
        assert 200 <= response.status < 300

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_an_answer_that_is_not_http_is_an_invalid_response(loop: str) -> None:
    async def test() -> None:
        not_http = b"SSH-2.0-OpenSSH_9.2\r\n"
        async with serving(lambda n, _: (not_http, False)) as (server, connections):
            with pytest.raises(InvalidResponse):
                await post(connections, server.url())

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_header_that_would_split_the_request_is_refused_before_anything_is_sent(
    loop: str,
) -> None:
    async def test() -> None:
        async with serving(lambda n, _: (OK, False)) as (server, connections):
            with pytest.raises(ValueError, match="CR, LF or NUL"):
                await connections.post(server.url(), {"x-a": "b\r\nx-injected: 1"}, b"{}", 10)
        assert server.connections == 0

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_an_exchange_cut_short_by_its_deadline_closes_its_connection(
    loop: str,
) -> None:
    async def test() -> None:
        answers = iter([b"", OK])  # the first request is never answered

        def script(n: int, head: bytes) -> tuple[bytes, bool]:
            return next(answers), False

        async with serving(script) as (server, connections):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await post(connections, server.url())
            for _ in range(100):  # the abandoned connection is closed, not left open
                if server.closed_by_client:
                    break
                await asyncio.sleep(0.01)
            assert server.closed_by_client == 1
            response = await post(connections, server.url())
        assert response.body == b"ok"
        assert server.connections == 2

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_proxy_gets_absolute_form_requests_with_its_credentials(loop: str) -> None:
    async def test() -> None:
        proxy = await ScriptedServer(lambda n, _: (OK, False)).start()
        connections = pool(proxy=f"http://relay:s3cret@127.0.0.1:{proxy.port}")
        response = await post(connections, "http://hooks.example.test:8080/in?x=1")
        await connections.close()
        await proxy.stop()
        assert response.body == b"ok"
        [head] = proxy.heads
        assert head.startswith(b"POST http://hooks.example.test:8080/in?x=1 HTTP/1.1\r\n"
                               b"Host: hooks.example.test:8080\r\n")
        assert b"\r\nProxy-Authorization: Basic cmVsYXk6czNjcmV0\r\n" in head

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_connection_that_answered_twice_to_one_request_is_not_used_again(loop: str) -> None:
    async def test() -> None:
        async with serving(lambda n, _: (OK + OK, False)) as (server, connections):
            first = await post(connections, server.url())
            second = await post(connections, server.url())
        assert first.body == second.body == b"ok"
        assert server.connections == 2

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_headers_without_end_are_refused_before_they_fill_memory(loop: str) -> None:
    async def test() -> None:
        endless = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1_000_000
        async with serving(lambda n, _: (endless, False)) as (server, connections):
            with pytest.raises(InvalidResponse, match="too large"):
                await post(connections, server.url())

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_body_in_one_byte_chunks_is_still_cut_at_the_limit(loop: str) -> None:
    async def test() -> None:
        chunks = b"".join(b"1\r\nx\r\n" for _ in range(5_000)) + b"0\r\n\r\n"
        answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        async with serving(lambda n, _: (answer, False)) as (server, connections):
            response = await post(connections, server.url(), limit=100)
        assert response.body == b"x" * 100

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_server_that_hangs_up_at_once_is_a_disconnect_not_a_timeout(loop: str) -> None:
    async def test() -> None:
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connections = pool()
        with pytest.raises(ConnectionError):
            async with asyncio.timeout(5):
                await post(connections, f"http://127.0.0.1:{port}/hook")
        await connections.close()
        server.close()

    run(loop, test)
