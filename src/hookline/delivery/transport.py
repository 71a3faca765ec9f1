"""The way out to the network, as one small protocol (as httpx has): `Sender` is the real
transport (aiohttp behind the egress policy); where a network is not the point, a test passes a
plain async function wrapped in `MockTransport`.

`send_message` is the one prepare → deadline → send sequence, shared by the worker and the
test send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ..models import Endpoint, Message
from .outcome import Outcome
from .request import PreparedRequest, RecentBodies, prepare_request, request_deadline


class Transport(Protocol):
    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        """Send `request`, all within `deadline` seconds; never raises for anything the
        receiver or the network does."""
        ...


Handler = Callable[[PreparedRequest, float], Awaitable[Outcome]]


class MockTransport:
    """A transport that hands each request to `handler` instead of the network."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        return await self.handler(request, deadline)


@dataclass(frozen=True)
class Sent:
    """What came of one request, and its headers as they may be stored and shown."""

    outcome: Outcome
    request_headers: dict[str, str]


async def send_message(transport: Transport, message: Message, endpoint: Endpoint, now: float,
                       lease_seconds: float, bodies: RecentBodies | None = None) -> Sent:
    """Sign and send `message` to `endpoint` at `now`, cut off within the lease (the body
    taken from `bodies` when given)."""
    request = prepare_request(message, endpoint, now, bodies)
    outcome = await transport.send(request, request_deadline(endpoint, lease_seconds))
    return Sent(outcome, request.redacted_headers())
