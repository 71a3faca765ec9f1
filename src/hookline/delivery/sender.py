"""The one egress path: every outgoing webhook request goes through `Sender.send`.

Policy lives here: blocked networks (checked on every resolved address, and the connection goes
to the checked address), an optional proxy, a total deadline per request, no redirects, and a
hard bound on how much of a response is ever read. The HTTP/1.1 exchange itself is
`http1.ConnectionPool`.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import errno
import ssl
import time
from dataclasses import replace

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
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
from .http1 import CannotConnect, ConnectionPool, DNSError, InvalidResponse, ServerDisconnected
from .outcome import Outcome
from .request import USER_AGENT, PreparedRequest

__all__ = ["USER_AGENT", "Sender"]
_RESET_ERRNOS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)
# URLs whose literal-address verdict is remembered. The verdict depends only on the URL text
# and the policy, both fixed; resolved addresses are still checked on every new connection.
URL_VERDICTS_SIZE = 4096


class Sender:
    """The real `Transport`: kept-alive connections (`http1.ConnectionPool`) sized from the
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
        self._connections: ConnectionPool | None = None
        self._own_resolver: AbstractResolver | None = None  # made here, so closed here
        self._url_verdicts: dict[str, Exception | None] = {}

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _pool(self) -> ConnectionPool:
        if self._connections is None:
            inner = self._inner_resolver
            if inner is None:
                inner = self._own_resolver = ThreadedResolver()
            self._connections = ConnectionPool(
                limit=self.settings.worker_concurrency + 16,
                # With a proxy, connections only ever reach the operator's proxy; the
                # destination is checked by `resolve_and_check` before each request instead.
                resolver=inner if self.settings.proxy_url else PolicyResolver(self.policy, inner),
                proxy=self.settings.proxy_url,
                ssl_context=_ssl_context(verify=self.settings.production),
            )
        return self._connections

    async def close(self) -> None:
        if self._connections is not None:
            await self._connections.close()
            self._connections = None
        if self._own_resolver is not None:
            await self._own_resolver.close()
            self._own_resolver = None

    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        """POST the request; never raises for anything the receiver or network does."""
        url = request.url
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(deadline):
                await self._check_destination(url)
                response = await self._pool().post(url, request.headers, request.body,
                                                   self.settings.max_response_bytes)
        except TimeoutError:
            return Outcome.error(ErrorKind.TIMEOUT, f"no complete answer within {deadline:g} s",
                                 elapsed())
        except Exception as exc:
            outcome = _classify(exc, elapsed())
            return replace(outcome, error_detail=_storable(outcome.error_detail or ""))
        text = _storable(response.body.decode("utf-8", errors="replace"))
        return Outcome.answered(response.status, text, elapsed(),
                                _retry_after(response.retry_after))

    async def _check_destination(self, url: str) -> None:
        """Literal addresses skip DNS (the resolver is never asked for them); with a proxy
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


def _ssl_context(*, verify: bool) -> ssl.SSLContext:
    """Production verifies certificates and host names; development accepts self-signed
    receivers."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


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
    if isinstance(exc, DNSError):
        return Outcome.error(ErrorKind.DNS, f"DNS lookup failed: {exc.strerror}", duration_ms)
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
        return Outcome.error(ErrorKind.TLS, f"TLS failed: {exc.__cause__ or exc}", duration_ms)
    if isinstance(exc, CannotConnect):
        if isinstance(exc.__cause__, ConnectionRefusedError):
            return Outcome.error(ErrorKind.CONNECTION_REFUSED, "connection refused", duration_ms)
        return Outcome.error(ErrorKind.CONNECTION, exc.strerror or str(exc), duration_ms)
    if isinstance(exc, ServerDisconnected):
        return Outcome.error(ErrorKind.CONNECTION_RESET,
                             "the receiver closed the connection without answering", duration_ms)
    if _is_reset(exc):
        return Outcome.error(ErrorKind.CONNECTION_RESET, "connection reset by the receiver",
                             duration_ms)
    if isinstance(exc, InvalidResponse):
        return Outcome.error(ErrorKind.INVALID_RESPONSE, f"invalid HTTP response: {exc}",
                             duration_ms)
    if isinstance(exc, ValueError):
        return Outcome.error(ErrorKind.CONNECTION, f"invalid request: {exc}", duration_ms)
    return Outcome.error(ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}", duration_ms)


def _is_reset(exc: BaseException | None) -> bool:
    """A reset, by its type or its errno."""
    return isinstance(exc, OSError) and (
        isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError)
        or exc.errno in _RESET_ERRNOS)
