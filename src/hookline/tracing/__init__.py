"""Optional OpenTelemetry tracing (docs/operations.md, "Tracing").

With `OTEL_EXPORTER_OTLP_ENDPOINT` set and the `tracing` extra installed, Hookline exports
spans for publish, claim, send and record over OTLP/HTTP. Contexts travel as W3C
`traceparent` strings: the publish span's is stored with each message, so the worker that
sends it, in whatever process, continues the publishing request's trace. Nothing of it is
sent to receivers: platform trace ids stay inside.

Off, `Tracing` is a null object: its hooks do nothing and `opentelemetry` is never imported;
only `start_tracing` (once, at start) and `TraceContext` (an ASGI middleware the app adds only
when tracing is on) import `._otel`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

log = logging.getLogger(__name__)

# ASGI, typed without a web framework (the core imports none).
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]
Attribute = str | int


class Span:
    """A span being recorded; off, this one, which records nothing."""

    @property
    def traceparent(self) -> str | None:
        """Its W3C `traceparent`, to store with what it produced (None: tracing is off)."""
        return None

    def set(self, name: str, value: Attribute) -> None:
        """Set one attribute of the span."""


OFF_SPAN = Span()
_OFF = nullcontext(OFF_SPAN)


class Tracing:
    """Tracing switched off: every hook is free. `start_tracing` gives the real one."""

    enabled = False

    def span(self, name: str, *, parent: str | None = None, links: Iterable[str | None] = (),
             attributes: Mapping[str, Attribute] | None = None) -> AbstractContextManager[Span]:
        """A span current while the block runs: a child of `parent` (a `traceparent`) when
        given, else of the current context (the publishing request's, say), linked to the
        spans whose `traceparent`s `links` holds."""
        return _OFF

    def finished_span(self, name: str, started_ns: int, *, links: Iterable[str | None] = (),
                      attributes: Mapping[str, Attribute] | None = None) -> None:
        """A span that began at `started_ns` and ends now, recorded after the fact: the
        worker's claim, which is a span only when it claimed something."""

    def shutdown(self) -> None:
        """Export what is left (at a process's stop)."""


def start_tracing(endpoint: str | None) -> Tracing:
    """The tracing a process runs with: spans exported to the OTLP/HTTP collector at
    `endpoint`, or off (no endpoint, or OpenTelemetry not installed)."""
    if not endpoint:
        return Tracing()
    try:
        from ._otel import OtelTracing
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed "
                    "(pip install 'hookline[tracing]'): tracing is off")
        return Tracing()
    return OtelTracing.to_collector(endpoint)


def TraceContext(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request's `traceparent` header becomes the current trace context,
    so the spans of its publish continue the caller's trace. Added only when tracing is on."""
    try:
        from ._otel import continue_incoming_trace
    except ImportError:
        return app
    return continue_incoming_trace(app)


__all__ = ["OFF_SPAN", "Span", "TraceContext", "Tracing", "start_tracing"]
