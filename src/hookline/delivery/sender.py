"""The one egress path: every outgoing webhook request goes through `Sender.send`.

Policy lives here: blocked networks (checked on every resolved address, and the connection goes
to the checked address), an optional proxy, a total deadline per request, no redirects, and a
hard bound on how much of a response is ever read.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import errno
import ssl
import time
from dataclasses import replace

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from ..config import Settings
from ..models import ErrorKind
from .egress import (
    EgressBlocked,
    EgressPolicy,
    PolicyResolver,
    egress_block_reason,
    resolve_and_check,
)
from .outcome import Outcome
from .request import USER_AGENT, PreparedRequest

__all__ = ["USER_AGENT", "Sender"]
# A read takes what has arrived, up to this much: most answers come in one read.
_READ_CHUNK = 64 * 1024
_RESET_ERRNOS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)
# URLs whose literal-address verdict is remembered. The verdict depends only on the URL text
# and the policy, both fixed; resolved addresses are still checked on every new connection.
URL_VERDICTS_SIZE = 4096


class Sender:
    """The real `Transport`: a pooled HTTP client, one connection pool sized from the
    concurrency, sending only where `policy` allows."""

    def __init__(
        self,
        settings: Settings,
        policy: EgressPolicy,
        *,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._url_verdicts: dict[str, Exception | None] = {}

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Production verifies certificates; development accepts self-signed receivers.
            verify: ssl.SSLContext | bool = True if self.settings.production else False
            connector = aiohttp.TCPConnector(
                limit=self.settings.worker_concurrency + 16,
                limit_per_host=0,
                # With a proxy, the connector only ever reaches the operator's proxy; the
                # destination is checked by `resolve_and_check` before each request instead.
                resolver=(self._inner_resolver if self.settings.proxy_url
                          else PolicyResolver(self.policy, self._inner_resolver)),
                ttl_dns_cache=10,
                ssl=verify,
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                # Only the request's own headers (and Host, Content-Length): what is recorded
                # and shown is everything sent.
                skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
                trust_env=False,
                # No cookies: one receiver's Set-Cookie must never ride along on the next
                # request to that host, which may be another partner's endpoint.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        """POST the request; never raises for anything the receiver or network does."""
        url = request.url
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(deadline):
                await self._check_destination(url)
                async with self._client().post(
                    url, data=request.body, headers=request.headers, allow_redirects=False,
                    proxy=self.settings.proxy_url,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=deadline),
                ) as response:
                    text = await self._read_bounded(response)
                    return Outcome.answered(response.status, text, elapsed(),
                                            _retry_after(response.headers.get("retry-after")))
        except TimeoutError:
            return Outcome.error(ErrorKind.TIMEOUT, f"no complete answer within {deadline:g} s",
                                 elapsed())
        except Exception as exc:
            outcome = _classify(exc, elapsed())
            return replace(outcome, error_detail=_storable(outcome.error_detail or ""))

    async def _check_destination(self, url: str) -> None:
        """Literal addresses skip DNS (aiohttp never asks the resolver for them); with a proxy
        the proxy resolves, so the destination is resolved and checked here first."""
        try:
            verdict = self._url_verdicts[url]
        except KeyError:
            verdict = self._url_verdict(url)
            if len(self._url_verdicts) >= URL_VERDICTS_SIZE:
                self._url_verdicts.pop(next(iter(self._url_verdicts)))
            self._url_verdicts[url] = verdict
        if verdict is not None:
            raise copy.copy(verdict)  # a fresh exception: a raised one keeps its traceback
        if self.settings.proxy_url:
            target = URL(url)
            await resolve_and_check(self.policy, target.host or "", target.port or 80,
                                    self._inner_resolver)

    def _url_verdict(self, url: str) -> Exception | None:
        """What the URL's text alone decides, without DNS: None if it may be sent to."""
        try:
            self.policy.check_url_literal(url)
            target = URL(url)
        except (EgressBlocked, ValueError) as exc:
            return exc
        if (self.settings.production and target.scheme == "http"
                and not self.policy.allows_plain_http(target.host or "")):
            # An endpoint saved before production mode was switched on is refused here too.
            return EgressBlocked("production mode sends only to https:// URLs (plain http:// "
                                 "only to networks in HOOKLINE_EGRESS_ALLOW)")
        return None

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> str:
        """Read at most `max_response_bytes`; a longer body is abandoned with its connection."""
        limit = self.settings.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = await response.content.read(min(_READ_CHUNK, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size >= limit and not response.content.at_eof():
            response.close()  # drop the connection instead of draining a huge body
        return _storable(b"".join(chunks).decode("utf-8", errors="replace"))


def _storable(text: str) -> str:
    """Text a receiver chose, made fit for any database: PostgreSQL refuses NUL in text, and
    one unstorable attempt would stall the recording of every attempt batched with it."""
    return text.replace("\x00", "\ufffd")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _classify(exc: BaseException, duration_ms: int) -> Outcome:
    reason = egress_block_reason(exc)
    if reason is not None:
        return Outcome.error(ErrorKind.BLOCKED, reason, duration_ms)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Outcome.error(ErrorKind.DNS, f"DNS lookup failed: {exc.os_error}", duration_ms)
    if isinstance(exc, aiohttp.ClientSSLError) or isinstance(exc.__cause__, ssl.SSLError):
        return Outcome.error(ErrorKind.TLS, f"TLS failed: {exc}", duration_ms)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return Outcome.error(ErrorKind.CONNECTION_REFUSED, "connection refused", duration_ms)
        return Outcome.error(ErrorKind.CONNECTION, f"cannot connect: {exc.os_error}",
                             duration_ms)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Outcome.error(ErrorKind.CONNECTION_RESET,
                             "the receiver closed the connection without answering", duration_ms)
    if _is_reset(exc) or _is_reset(exc.__cause__):
        return Outcome.error(ErrorKind.CONNECTION_RESET, "connection reset by the receiver",
                             duration_ms)
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return Outcome.error(ErrorKind.INVALID_RESPONSE, f"invalid HTTP response: {exc}",
                             duration_ms)
    if isinstance(exc, ValueError | aiohttp.InvalidURL):
        return Outcome.error(ErrorKind.CONNECTION, f"invalid URL: {exc}", duration_ms)
    return Outcome.error(ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}", duration_ms)


def _is_reset(exc: BaseException | None) -> bool:
    """A reset, however aiohttp wrapped it: its ClientOSError copies only the errno."""
    return isinstance(exc, OSError) and (
        isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError)
        or exc.errno in _RESET_ERRNOS)
