"""Tracing through real processes: `hookline serve` (API only) and a `hookline worker` export
their spans over OTLP/HTTP to a small collector on loopback. The worker, in another process,
continues the publishing request's trace: its send span is a child of the publish span (which
is a child of the caller's), and claim, send and record link to the publish span. Nothing of
the trace reaches the receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.api import make_settings
from tests.support.polling import wait_until
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver
from tests.support.served import ServeProcess

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@dataclass
class ExportedSpan:
    name: str
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    links: list[tuple[str, str]]  # (trace id, span id)
    attributes: dict[str, object]


@dataclass
class Collector:
    """An OTLP/HTTP trace collector: what `/v1/traces` received, span by span."""

    spans: list[ExportedSpan] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> Collector:
        app = web.Application()
        app.router.add_post("/v1/traces", self._export)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _export(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in export.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes
                           if a.key == "service.name")
            for scope in resource_spans.scope_spans:
                self.spans += [_exported(span, service) for span in scope.spans]
        return web.Response(body=b"", content_type="application/x-protobuf")

    def named(self, name: str) -> list[ExportedSpan]:
        return [s for s in self.spans if s.name == name]


def _exported(span: object, service: str) -> ExportedSpan:
    def value(any_value: object) -> object:
        kind = any_value.WhichOneof("value")  # type: ignore[attr-defined]
        return getattr(any_value, kind) if kind else None

    return ExportedSpan(
        span.name, service, span.trace_id.hex(), span.span_id.hex(),  # type: ignore[attr-defined]
        span.parent_span_id.hex(),  # type: ignore[attr-defined]
        [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],  # type: ignore[attr-defined]
        {a.key: value(a.value) for a in span.attributes})  # type: ignore[attr-defined]


@pytest.fixture
async def collector(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Collector]:
    """A collector the processes this test starts export to, without delay."""
    found = await Collector().start()
    # The standard variables: the child processes inherit them (HOOKLINE_* they do not).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", found.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    yield found
    await found.stop()


async def test_a_delivery_continues_the_publishing_requests_trace(
        collector: Collector, receiver: Receiver, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path)
    serve = await ServeProcess(settings, tmp_path, "serve", worker=False).start()
    worker: WorkerProcess | None = None
    try:
        _, app = await serve.call("POST", "/app", {"name": "traced"})
        await serve.call("POST", f"/app/{app['id']}/endpoint", {"url": receiver.url("/hook")})
        assert serve.session is not None
        async with serve.session.post(
                f"/api/v1/app/{app['id']}/msg",
                json={"eventType": "order.created", "payload": {"id": 1}},
                headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}) as response:
            assert response.status == 202
            message = await response.json()
        worker = WorkerProcess(settings, tmp_path, "worker")
        await asyncio.to_thread(worker.wait_started)

        [delivered] = await receiver.wait_for(1)

        def all_four() -> bool:
            return all(collector.named(f"hookline.{n}")
                       for n in ("publish", "claim", "send", "record"))

        await wait_until(all_four, what="publish, claim, send and record spans")
    finally:
        if worker is not None:
            worker.terminate()
        await serve.stop()

    # Operational events (endpoint.created) are publishes too, into the internal application.
    # Operational events (endpoint.created) are publishes too, into the internal application;
    # a publish that met a configuration changed under it is tried again (a second span).
    publishes = {s.span_id: s for s in collector.named("hookline.publish")
                 if s.attributes["hookline.app_id"] == app["id"]}
    [send] = collector.named("hookline.send")
    assert all((p.trace_id, p.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)
               for p in publishes.values())
    publish = publishes[send.parent_span_id]
    assert send.trace_id == CALLER_TRACE
    assert send.attributes["hookline.message_id"] == message["id"]
    assert send.attributes["http.response.status_code"] == 200
    origin = (CALLER_TRACE, publish.span_id)
    for span in (send, *collector.named("hookline.claim"), *collector.named("hookline.record")):
        assert origin in span.links, span.name
        assert span.service == "hookline"
    # Platform trace ids stay inside: the partner's request carries none of them.
    assert "traceparent" not in {name.lower() for name in delivered.headers}
    assert CALLER_TRACE not in str(delivered.headers)
