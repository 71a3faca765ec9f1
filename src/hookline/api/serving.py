"""The HTTP server in front of the API: uvicorn's httptools protocol, with bounds on what a
client may send before its request reaches the application.

uvicorn bounds neither the size nor the number of request headers under httptools, and arms
no timer until a first response is sent: a client that opens a connection and sends half a
header line, one byte now and then (slowloris), holds it open forever. `GuardedHttpProtocol`
adds, per connection:

- a header deadline: the headers of a request must be complete within `header_timeout`
  seconds of the connection opening (first request) or of the request's first byte (later
  requests on a kept-alive connection; the idle time between requests is uvicorn's
  `timeout_keep_alive`). Past it the server answers 408 and closes;
- header bounds: more than `max_header_bytes` (request line and header block) or
  `max_header_count` headers answer 431 and close, before the application sees anything.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import Settings
from .problems import PROBLEM_JSON, problem_document


@dataclass(frozen=True)
class HeaderBounds:
    max_bytes: int
    max_count: int
    timeout: float

    @classmethod
    def of(cls, settings: Settings) -> HeaderBounds:
        return cls(settings.max_header_bytes, settings.max_header_count,
                   settings.header_timeout)


class HeaderLimitExceeded(Exception):
    """The request's headers are larger or more numerous than the server accepts."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """httptools' protocol with a header deadline and header bounds (see the module doc)."""

    bounds: HeaderBounds  # set on the subclass `protocol_for` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True  # from the connection's start to its first request's end
        self._header_bytes = 0
        self._header_count = 0

    # -- the header deadline ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.bounds.timeout,
                                                         self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self._refuse(408, "Request timeout",
                     f"the request headers did not arrive within {self.bounds.timeout:g} s")

    # -- the header bounds -----------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """uvicorn's own `data_received`, with the header bounds: counted from the parser's
        callbacks for complete headers, and from the raw bytes for a header still arriving
        (httptools holds a partial header in memory until it ends)."""
        began_before = self._reading_headers
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeaderLimitExceeded):
                self._refuse(431, "Request header fields too large", str(exc.__context__))
                return
            self._invalid_request()
            return
        except httptools.HttpParserError:
            self._invalid_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if began_before and self._reading_headers:
            self._header_bytes += len(data)
            if self._header_bytes > self.bounds.max_bytes:
                self._refuse(431, "Request header fields too large", self._too_large())

    def _invalid_request(self) -> None:
        self.logger.warning("Invalid HTTP request received.")
        self.send_400_response("Invalid HTTP request received.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = self._header_count = 0
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.bounds.max_count:
            raise HeaderLimitExceeded(
                f"a request carries at most {self.bounds.max_count} header fields")
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm_header_deadline()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.bounds.max_bytes:
            raise HeaderLimitExceeded(self._too_large())

    def _too_large(self) -> str:
        return f"the request line and headers exceed {self.bounds.max_bytes} bytes"

    def _refuse(self, status: int, title: str, detail: str) -> None:
        """Answer with a problem document and close; with a response under way (a pipelined
        request), close without one rather than interleave two."""
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            body = json.dumps(problem_document(status, title, detail)).encode()
            self.transport.write(b"".join([
                STATUS_LINE[status],
                f"content-type: {PROBLEM_JSON}\r\n".encode(),
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode(),
                body]))
        self.transport.close()


def protocol_for(bounds: HeaderBounds) -> type[asyncio.Protocol]:
    """`GuardedHttpProtocol` with these bounds, as uvicorn's `http` protocol class."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"bounds": bounds})


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for serving `app` with these settings' inbound bounds."""
    return uvicorn.Config(app, http=protocol_for(HeaderBounds.of(settings)), **options)
