"""Tracing with OpenTelemetry's SDK: imported only when tracing is on (see `__init__`).

The tracer provider is Hookline's own, not the global one: a process may run several
runtimes (tests do), and an application embedding Hookline keeps its own provider.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import ASGIApp, Attribute, Scope, Span, Tracing

_PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = (b"traceparent", b"tracestate")


def traceparent_of(context: trace.SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def context_of(traceparent: str | None) -> otel_context.Context | None:
    """The context a `traceparent` names (None: none given, or not a valid one)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def _links(traceparents: Iterable[str | None]) -> list[trace.Link]:
    links = []
    for traceparent in dict.fromkeys(traceparents):  # once each, in order
        context = context_of(traceparent)
        if context is not None:
            links.append(trace.Link(trace.get_current_span(context).get_span_context()))
    return links


class _OtelSpan(Span):
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @property
    def traceparent(self) -> str | None:
        return traceparent_of(self._span.get_span_context())

    def set(self, name: str, value: Attribute) -> None:
        self._span.set_attribute(name, value)


class OtelTracing(Tracing):
    """Spans recorded with the SDK and exported in batches by `exporter`."""

    enabled = True

    def __init__(self, exporter: SpanExporter) -> None:
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "hookline"}))
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("hookline")

    @classmethod
    def to_collector(cls, endpoint: str) -> OtelTracing:
        """Export to an OTLP/HTTP collector; `endpoint` is its base URL, as the
        `OTEL_EXPORTER_OTLP_ENDPOINT` convention has it (traces go to `/v1/traces`)."""
        return cls(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))

    @contextmanager
    def span(self, name: str, *, parent: str | None = None, links: Iterable[str | None] = (),
             attributes: Mapping[str, Attribute] | None = None) -> Iterator[Span]:
        with self._tracer.start_as_current_span(
                name, context=context_of(parent), links=_links(links),
                attributes=attributes or {}, kind=_kind(name)) as span:
            yield _OtelSpan(span)

    def finished_span(self, name: str, started_ns: int, *, links: Iterable[str | None] = (),
                      attributes: Mapping[str, Attribute] | None = None) -> None:
        span = self._tracer.start_span(name, links=_links(links), attributes=attributes or {},
                                       start_time=started_ns)
        span.end(time.time_ns())

    def shutdown(self) -> None:
        self._provider.shutdown()


def _kind(name: str) -> trace.SpanKind:
    """A send is a request to a receiver (a client span); the rest are Hookline's own."""
    return trace.SpanKind.CLIENT if name.endswith(".send") else trace.SpanKind.INTERNAL


def continue_incoming_trace(app: ASGIApp) -> ASGIApp:
    """`app` run in the trace context of each request's `traceparent` header, if it has one."""

    async def traced(scope: Scope, receive: Any, send: Any) -> None:
        carrier = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope.get("headers", ()) if name in _CARRIED}
        if scope["type"] != "http" or "traceparent" not in carrier:
            await app(scope, receive, send)
            return
        token = otel_context.attach(_PROPAGATOR.extract(carrier))
        try:
            await app(scope, receive, send)
        finally:
            otel_context.detach(token)

    return traced
