"""Building the exact request for one message to one endpoint: body, signature, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..envelopes import build_body
from ..models import Endpoint, Message
from ..signing import signature_headers

REDACTED = "***"
# Header names whose values are credentials: never logged, stored or shown.
_SENSITIVE = re.compile(
    r"auth|token|secret|key|signature|passw|passphrase|credential|cookie|session", re.I)
_SIGNATURE_NAMES = {"webhook-signature"}


@dataclass(frozen=True)
class PreparedRequest:
    url: str
    body: bytes
    headers: dict[str, str]

    def redacted_headers(self) -> dict[str, str]:
        """Headers fit to store and show: credential-like custom header values become ***."""
        return {name: (REDACTED if _is_sensitive(name) else value)
                for name, value in self.headers.items()}


def _is_sensitive(name: str) -> bool:
    lowered = name.lower()
    if lowered in _SIGNATURE_NAMES or lowered.endswith("-signature") or lowered == "signature":
        return False  # signatures are public proofs, useful when debugging verification
    return bool(_SENSITIVE.search(lowered))


def prepare_request(message: Message, endpoint: Endpoint, now: float) -> PreparedRequest:
    body = build_body(message, endpoint)
    options = endpoint.options
    headers = dict(endpoint.headers)
    headers.update(signature_headers(
        options.signature_scheme, endpoint.signing_secrets(now), message.id, int(now), body,
        options.signature_header))
    return PreparedRequest(endpoint.url, body, headers)


# A request is cut at this share of the lease, so the lease always outlasts the request it
# covers and no other worker takes the delivery while it is still being sent (Svix #2181).
LEASE_SHARE = 0.8


def request_deadline(endpoint: Endpoint, lease_seconds: float) -> float:
    """Seconds a request to `endpoint` may take in all: its timeout, within the lease."""
    return min(endpoint.options.timeout, lease_seconds * LEASE_SHARE)
