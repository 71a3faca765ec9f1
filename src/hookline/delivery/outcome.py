"""What one HTTP attempt came to, as a value the worker decides on in one place."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Attempt, AttemptTrigger, Endpoint, ErrorKind, Message


@dataclass(frozen=True)
class Outcome:
    """The result of sending one request.

    `retryable` is False only for failures that no retry can fix (blocked by egress policy).
    """

    succeeded: bool
    duration_ms: int
    status_code: int | None = None
    body: str = ""
    error_kind: ErrorKind | None = None
    error_detail: str | None = None
    retry_after: float | None = None
    retryable: bool = True

    @classmethod
    def answered(cls, status: int, body: str, duration_ms: int,
                 retry_after: float | None = None) -> Outcome:
        ok = 200 <= status < 300
        return cls(
            succeeded=ok, duration_ms=duration_ms, status_code=status, body=body,
            error_kind=None if ok else ErrorKind.HTTP_STATUS,
            error_detail=None if ok else f"receiver answered HTTP {status}",
            retry_after=retry_after)

    @classmethod
    def error(cls, kind: ErrorKind, detail: str, duration_ms: int,
              status: int | None = None, body: str = "") -> Outcome:
        return cls(succeeded=False, duration_ms=duration_ms, status_code=status, body=body,
                   error_kind=kind, error_detail=detail,
                   retryable=kind is not ErrorKind.BLOCKED)

    def as_attempt(self, *, attempt_id: str, delivery_id: str, message: Message,
                   endpoint: Endpoint, started: float, trigger: AttemptTrigger,
                   request_headers: dict[str, str], attempt_number: int = 1) -> Attempt:
        """The attempt to store for this outcome of sending `message` to `endpoint`."""
        return Attempt(
            id=attempt_id, delivery_id=delivery_id, message_id=message.id,
            endpoint_id=endpoint.id, app_id=message.app_id, url=endpoint.url,
            created_at=started, succeeded=self.succeeded, trigger=trigger,
            status_code=self.status_code, response_body=self.body,
            duration_ms=self.duration_ms,
            error_kind=str(self.error_kind) if self.error_kind else None,
            error_detail=self.error_detail, request_headers=request_headers,
            attempt_number=attempt_number)
