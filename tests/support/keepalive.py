"""One HTTP/1.1 connection held open across requests, to show that an answer (an error among
them) leaves the client's connection usable. A plain socket, so nothing reconnects behind the
test's back: if the server closed the connection, the next request fails."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class KeepAliveClient:
    host: str
    port: int
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveClient:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._writer is not None
        self._writer.close()
        await self._writer.wait_closed()

    async def send(self, method: str, path: str, body: bytes = b"",
                   content_type: str = "application/json") -> RawResponse:
        """One request on the connection opened at the start; never a new connection."""
        assert self._reader is not None and self._writer is not None
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}",
                f"content-length: {len(body)}", f"content-type: {content_type}"]
        if self.token:
            head.append(f"authorization: Bearer {self.token}")
        if self.cookies:
            head.append("cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        response = await asyncio.wait_for(self._read_response(), 10)
        self.requests += 1
        return response

    async def post_json(self, path: str, raw_json: bytes) -> RawResponse:
        return await self.send("POST", path, raw_json)

    async def post_form(self, path: str, fields: dict[str, str]) -> RawResponse:
        return await self.send("POST", path, urlencode(fields).encode(),
                               "application/x-www-form-urlencoded")

    async def _read_response(self) -> RawResponse:
        assert self._reader is not None
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value.strip()).values():
                    self.cookies[morsel.key] = morsel.value
            headers[name.strip().lower()] = value.strip()
        assert headers.get("connection", "").lower() != "close", "the server closes the connection"
        body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        return RawResponse(status, headers, body)
