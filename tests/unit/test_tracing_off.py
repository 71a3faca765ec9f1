"""Tracing off costs nothing: without an OTLP endpoint, Hookline never imports OpenTelemetry's
SDK or exporter (FastAPI itself imports the bare API when it is installed), and its hooks are
the null ones."""

from __future__ import annotations

import subprocess
import sys

from hookline.tracing import OFF_SPAN, Tracing, start_tracing

PROBE = """
import sys
import hookline.api.app, hookline.cli, hookline.runtime
from hookline.tracing import start_tracing
from hookline.delivery.traced import traced_edges
tracing = start_tracing(None)
with tracing.span("hookline.publish") as span:
    assert span.traceparent is None
print(sorted(m for m in sys.modules if m.startswith(
    ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto",
     "hookline.tracing._otel"))))
"""


def test_without_an_endpoint_no_opentelemetry_sdk_is_imported() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=True)

    assert result.stdout.strip() == "[]"


def test_without_an_endpoint_the_worker_runs_with_its_own_store_and_transport() -> None:
    from hookline.delivery.traced import traced_edges

    store, transport = object(), object()
    tracing = start_tracing(None)

    assert type(tracing) is Tracing and not tracing.enabled
    assert traced_edges(store, transport, tracing) == (store, transport)  # type: ignore[arg-type]
    with tracing.span("hookline.send") as span:
        assert span is OFF_SPAN
