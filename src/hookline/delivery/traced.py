"""The worker's spans (claim, send, record), taken at its edges: the store it claims from and
records into, and the transport it sends with. `Runtime` wraps those two only when tracing is
on, so a worker without tracing runs exactly the code it runs without this module.

Each span links to the publish spans of the messages involved; a send span is moreover a child
of its message's publish span, so a delivery continues the publishing request's trace.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from ..models import Endpoint
from ..store.base import Claim, DeliveryResult, DisableRule, Store
from ..tracing import Tracing
from .outcome import Outcome
from .request import PreparedRequest
from .transport import Transport

# Claims remembered until their results are recorded (their publish contexts, for the record
# span's links); more than a worker holds at once only if results were dropped.
MAX_REMEMBERED = 65536


class TracedStore:
    """A store whose claims and records are spans; everything else is the store's own."""

    def __init__(self, store: Store, tracing: Tracing) -> None:
        self._store = store
        self._tracing = tracing
        self._origins: dict[str, str | None] = {}  # attempt id -> its message's traceparent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_due_deliveries(self, owner: str, limit: int, now: float, lease: float,
                                   exclude_endpoints: Sequence[str] = (),
                                   room: Mapping[str, int] | None = None,
                                   default_room: int | None = None,
                                   default_cap: int | None = None,
                                   busy: Mapping[str, int] | None = None) -> list[Claim]:
        started = time.time_ns()
        claims = await self._store.claim_due_deliveries(owner, limit, now, lease,
                                                        exclude_endpoints, room, default_room,
                                                        default_cap, busy)
        if claims:  # a claim that found nothing is no span: idle workers would flood traces
            self._remember(claims)
            self._tracing.finished_span(
                "hookline.claim", started, links=[c.message.traceparent for c in claims],
                attributes={"hookline.worker": owner, "hookline.claimed": len(claims)})
        return claims

    async def record_results(self, results: Sequence[DeliveryResult],
                             should_disable: DisableRule) -> list[Endpoint]:
        links = [self._origins.get(r.attempt.id) for r in results]
        with self._tracing.span("hookline.record", links=links,
                                attributes={"hookline.attempts": len(results)}):
            disabled = await self._store.record_results(results, should_disable)
        for result in results:
            self._origins.pop(result.attempt.id, None)
        return disabled

    async def release_deliveries(self, claims: Sequence[Claim], at: float) -> None:
        await self._store.release_deliveries(claims, at)
        for claim in claims:
            self._origins.pop(claim.attempt_id, None)

    def _remember(self, claims: list[Claim]) -> None:
        while len(self._origins) + len(claims) > MAX_REMEMBERED and self._origins:
            del self._origins[next(iter(self._origins))]
        self._origins.update((c.attempt_id, c.message.traceparent) for c in claims)


class TracedTransport:
    """A transport whose requests are send spans, children of their messages' publish."""

    def __init__(self, transport: Transport, tracing: Tracing) -> None:
        self._transport = transport
        self._tracing = tracing

    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        # The receiver's host only: a URL's path or query may hold a partner's credentials.
        with self._tracing.span(
                "hookline.send", parent=request.traceparent, links=[request.traceparent],
                attributes={"hookline.message_id": request.message_id,
                            "hookline.endpoint_id": request.endpoint_id,
                            "server.address": urlsplit(request.url).hostname or ""}) as span:
            outcome = await self._transport.send(request, deadline)
            if outcome.status_code is not None:
                span.set("http.response.status_code", outcome.status_code)
            span.set("hookline.outcome", "succeeded" if outcome.succeeded
                     else str(outcome.error_kind or "failed"))
        return outcome


def traced_edges(store: Store, transport: Transport,
                 tracing: Tracing) -> tuple[Store, Transport]:
    """The store and transport a worker runs with: spans around both when tracing is on."""
    if not tracing.enabled:
        return store, transport
    return cast(Store, TracedStore(store, tracing)), TracedTransport(transport, tracing)
