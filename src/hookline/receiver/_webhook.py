"""`Webhook`: a receiver's verification settings, checked once when the app starts."""

from __future__ import annotations

from typing import Any

from ._errors import WebhookVerificationError
from ._signing import STANDARD, Secrets, check_scheme, sign, signing_keys
from ._verify import DEFAULT_TOLERANCE, verify, verify_signature


class Webhook:
    """Secret(s), scheme, header and tolerance in one object, so handlers only pass the request.

    A bad secret or scheme raises `ValueError` here, at start-up, instead of turning every
    delivery into a 401.
    """

    def __init__(
        self,
        secret: Secrets,
        scheme: str = STANDARD,
        *,
        header: str | None = None,
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        try:
            signing_keys(secret, check_scheme(scheme))
        except WebhookVerificationError as error:
            raise ValueError(str(error)) from None
        self.secret = secret
        self.scheme = scheme
        self.header = header
        self.tolerance = tolerance

    def verify(self, body: bytes, headers: Any, *, now: float | None = None) -> Any:
        """The parsed JSON body, or `WebhookVerificationError`."""
        return verify(
            body, headers, self.secret, self.scheme,
            header=self.header, tolerance=self.tolerance, now=now,
        )

    def verify_signature(self, body: bytes, headers: Any, *, now: float | None = None) -> bytes:
        """The raw body once its signature checks out, for bodies that are not JSON."""
        return verify_signature(
            body, headers, self.secret, self.scheme,
            header=self.header, tolerance=self.tolerance, now=now,
        )

    def sign(
        self, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """Headers that make `body` verify with these settings (for tests of your handler)."""
        return sign(
            body, self.secret, self.scheme, msg_id=msg_id, timestamp=timestamp, header=self.header
        )

    def __repr__(self) -> str:
        return f"Webhook(scheme={self.scheme!r}, header={self.header!r}, secret=<hidden>)"
