"""One log line per stored attempt, with the ids involved as fields (`logs.log_ids`).

Its own logger, `hookline.delivery.attempts`, so an operator can turn it up or down alone: a
delivered attempt is DEBUG (a busy worker makes thousands a second), a retry INFO, a delivery
given up WARNING. A line names the receiver by endpoint id, never by URL: a URL may carry a
partner's credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..logs import log_ids
from ..models import Attempt, DeliveryStatus
from ..store.base import Claim, DeliveryResult

log = logging.getLogger("hookline.delivery.attempts")

_LEVELS = {DeliveryStatus.SUCCEEDED: logging.DEBUG, DeliveryStatus.PENDING: logging.INFO,
           DeliveryStatus.FAILED: logging.WARNING}
_VERBS = {DeliveryStatus.SUCCEEDED: "delivered", DeliveryStatus.PENDING: "will retry",
          DeliveryStatus.FAILED: "failed for good"}


def attempt_ids(attempt: Attempt, worker: str | None = None) -> dict[str, str]:
    """`extra=` for a line about `attempt`: its app, endpoint, message, delivery and worker."""
    return log_ids(app=attempt.app_id, endpoint=attempt.endpoint_id,
                   message=attempt.message_id, attempt=attempt.id,
                   delivery=attempt.delivery_id, worker=worker or attempt.worker)


def claim_ids(claim: Claim, worker: str) -> dict[str, str]:
    """`extra=` for a line about a claimed delivery, before it has an outcome."""
    return log_ids(app=claim.endpoint.app_id, endpoint=claim.endpoint.id,
                   message=claim.message.id, attempt=claim.attempt_id,
                   delivery=claim.delivery_id, worker=worker)


def log_recorded(results: Iterable[DeliveryResult]) -> None:
    """A line for each attempt just stored, at its outcome's level."""
    for result in results:
        level = _LEVELS[result.status]
        if not log.isEnabledFor(level):
            continue
        attempt = result.attempt
        answer = (f"HTTP {attempt.status_code}" if attempt.status_code is not None
                  else str(attempt.error_kind or "no answer"))
        log.log(level, "attempt %d of %s to %s %s (%s, %d ms)", attempt.attempt_number,
                attempt.message_id, attempt.endpoint_id, _VERBS[result.status], answer,
                attempt.duration_ms, extra=attempt_ids(attempt))
