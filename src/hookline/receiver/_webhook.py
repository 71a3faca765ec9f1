"""`Webhook`: a receiver's verification settings, checked once when the app starts."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from ._errors import WebhookVerificationError
from ._signing import STANDARD, Secrets, check_scheme, sign, signing_keys
from ._verify import DEFAULT_TOLERANCE, verify, verify_signature


@dataclass(eq=False, repr=False)
class Webhook:
    """Secret(s), scheme, header and tolerance in one object, so handlers only pass the request.

    A bad secret or scheme raises `ValueError` here, at start-up, instead of turning every
    delivery into a 401. The framework helpers are `Webhook`s too, with de-duplication added.
    """

    secret: Secrets
    scheme: str = STANDARD
    _: KW_ONLY
    header: str | None = None
    tolerance: int = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        try:
            signing_keys(self.secret, check_scheme(self.scheme))
        except WebhookVerificationError as error:
            raise ValueError(str(error)) from None

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
        name = type(self).__name__
        return f"{name}(scheme={self.scheme!r}, header={self.header!r}, secret=<hidden>)"
