"""Building the exact request for one message to one endpoint: body, signature, headers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..envelopes import build_body
from ..models import Endpoint, Message
from ..redaction import redact_headers
from ..signing import signature_headers


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    # The headers signing computed for this request (id, timestamp, signature).
    signed: frozenset[str] = field(default_factory=frozenset)

    def redacted_headers(self) -> dict[str, str]:
        """Headers fit to store and show: credential-like custom header values become ***;
        the signature computed for this body stays readable."""
        return redact_headers(self.headers, shown=self.signed)


def prepare_request(message: Message, endpoint: Endpoint, now: float) -> PreparedRequest:
    body = build_body(message, endpoint)
    options = endpoint.options
    signed = signature_headers(
        options.signature_scheme, endpoint.signing_secrets(now), message.id, int(now), body,
        options.signature_header)
    headers = {**endpoint.headers, **signed}
    return PreparedRequest(endpoint.url, body, headers, frozenset(signed))


# A request is cut at this share of the lease, so the lease always outlasts the request it
# covers and no other worker takes the delivery while it is still being sent (Svix #2181).
LEASE_SHARE = 0.8


def request_deadline(endpoint: Endpoint, lease_seconds: float) -> float:
    """Seconds a request to `endpoint` may take in all: its timeout, within the lease."""
    return min(endpoint.options.timeout, lease_seconds * LEASE_SHARE)
