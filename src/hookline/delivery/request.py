"""Building the exact request for one message to one endpoint: body, signature, headers."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import __version__
from ..envelopes import PER_MESSAGE, body_style, build_body
from ..models import Endpoint, Message
from ..redaction import redact_headers
from ..signing import signature_headers

USER_AGENT = f"Hookline/{__version__} (webhook delivery; +https://github.com/hookline/hookline)"
# Sent with every request, before the endpoint's custom headers and the signature.
BASE_HEADERS = {"content-type": "application/json", "user-agent": USER_AGENT}


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    # The headers signing computed for this request (id, timestamp, signature).
    signed: frozenset[str] = field(default_factory=frozenset)
    # Where it comes from, for the send span (tracing); never sent to the receiver.
    message_id: str = ""
    endpoint_id: str = ""
    traceparent: str | None = None

    def redacted_headers(self) -> dict[str, str]:
        """Headers fit to store and show: credential-like custom header values become ***;
        the signature computed for this body stays readable."""
        return redact_headers(self.headers, shown=self.signed)


class RecentBodies:
    """Bodies of recent messages, so a message going to several endpoints with the same
    envelope is encoded once for all of them. A worker may keep them: a published message never
    changes."""

    def __init__(self, size: int = 512, max_bytes: int = 64 * 1024) -> None:
        self.size = size
        self.max_bytes = max_bytes  # larger bodies are encoded for each endpoint
        self._bodies: dict[tuple[str, str, str], bytes] = {}

    def body(self, message: Message, endpoint: Endpoint) -> bytes:
        envelope, style = body_style(endpoint)
        if envelope not in PER_MESSAGE:
            return build_body(message, endpoint)
        key = (message.id, envelope, style)
        body = self._bodies.get(key)
        if body is None:
            body = build_body(message, endpoint)
            if len(body) <= self.max_bytes:
                if len(self._bodies) >= self.size:
                    self._bodies.pop(next(iter(self._bodies)))  # the oldest
                self._bodies[key] = body
        return body


def prepare_request(message: Message, endpoint: Endpoint, now: float,
                    bodies: RecentBodies | None = None) -> PreparedRequest:
    body = bodies.body(message, endpoint) if bodies else build_body(message, endpoint)
    options = endpoint.options
    signed = signature_headers(
        options.signature_scheme, endpoint.signing_secrets(now), message.id, int(now), body,
        options.signature_header, options.signature_headers)
    # Every header sent is in `headers`, so the logs and the test send show them all.
    headers = {**BASE_HEADERS, **endpoint.headers, **signed}
    return PreparedRequest(endpoint.url, body, headers, frozenset(signed), message.id,
                           endpoint.id, message.traceparent)


# A request is cut at this share of the lease, so the lease always outlasts the request it
# covers and no other worker takes the delivery while it is still being sent (Svix #2181).
LEASE_SHARE = 0.8


def request_deadline(endpoint: Endpoint, lease_seconds: float) -> float:
    """Seconds a request to `endpoint` may take in all: its timeout, within the lease."""
    return min(endpoint.options.timeout, lease_seconds * LEASE_SHARE)
