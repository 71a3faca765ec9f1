"""Template filters: times, rates, JSON, and the words and colours for an endpoint's state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

from ..errors import HooklineError
from ..models import Endpoint
from ..validation import PARTNER_BLOCKED

MANUAL_REASON = "disabled manually"
# Messages a redirect may ask for by key (never text from the query string itself).
NOTICES = {
    "created": "Endpoint created. Send it a test event to check that it answers.",
    "saved": "Changes saved.",
    "rotated": "Signing secret rotated. The previous secret keeps working for 24 hours.",
    "deactivated": "Endpoint deactivated. Deliveries wait until you reactivate it.",
    "reactivated": "Endpoint reactivated. Waiting deliveries are on their way.",
    "deleted": "Endpoint deleted.",
    "resent": "Delivery queued again. It appears in the log once it is sent.",
    "probe-ok": "Your endpoint answered: it is active again, and the events it missed are on "
                "their way, oldest first.",
    "probe-failed": "Your endpoint still fails. Hookline keeps retrying it on its own.",
    "probe-none": "No missed event to retry with yet. Hookline keeps checking.",
    "signed-in": "Signed in.",
    "signed-out": "Signed out.",
}
# An endpoint someone switched off is neither healthy nor failing: it is paused.
HEALTH_LABELS = {"green": "Healthy", "yellow": "Some failures", "red": "Failing",
                 "paused": "Paused"}


# The API's field names as the portal's forms label them.
FIELD_LABELS = {"url": "URL", "filterTypes": "Event types", "eventType": "Event type",
                "signatureScheme": "Signature", "signatureHeader": "Signature header",
                "retrySchedule": "Retry schedule", "jsonStyle": "JSON style",
                "eventTypes": "Event types"}


def partner_message(error: HooklineError) -> str:
    """An error as a partner reads it: in their words where the detail speaks to the
    operator, opening with a capital (a field's label for a field's name)."""
    return capitalised(error.partner_detail or error.detail)


def capitalised(text: str) -> str:
    """`url is ...` → `URL is ...`; a JSON path (`payload.s: ...`, `items[0] ...`) stays as
    it is written, since it names the key."""
    first, space, rest = text.partition(" ")
    if not first or "." in first or "[" in first:
        return text
    return FIELD_LABELS.get(first, first[:1].upper() + first[1:]) + space + rest


def attempt_error(kind: str | None, detail: str | None) -> str:
    """Why an attempt failed, for a partner: a refusal by the egress policy names no setting."""
    return capitalised(PARTNER_BLOCKED if kind == "blocked" else detail or "")


def endpoint_status(endpoint: Endpoint) -> tuple[str, str]:
    """(css class, label): active, inactive (switched off by someone), or disabled by failures."""
    if not endpoint.disabled:
        return "active", "Active"
    if endpoint.disabled_reason in (None, "", MANUAL_REASON):
        return "inactive", "Inactive"
    return "failing", "Disabled by failures"


def when(epoch: float | None) -> str:
    if not epoch:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def ago(epoch: float | None, now: float | None = None) -> str:
    if not epoch:
        return "never"
    seconds = max(0, int((now or time.time()) - epoch))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def percent(rate: float | None) -> str:
    if rate is None:
        return "\u2013"  # en dash: no attempt, no rate
    value = rate * 100 if rate <= 1 else rate
    return f"{value:.0f}%" if value in (0, 100) or value >= 10 else f"{value:.1f}%"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def pretty_body(raw: str | bytes) -> str:
    """A request or response body for reading: indented when it is JSON, as it is otherwise."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        return pretty_json(json.loads(text))
    except ValueError:
        return text


def install(env: Environment) -> None:
    env.filters.update(when=when, iso=iso, ago=ago, percent=percent, pretty_json=pretty_json,
                       pretty_body=pretty_body)
    env.globals.update(attempt_error=attempt_error)
    env.globals.update(endpoint_status=endpoint_status, health_labels=HEALTH_LABELS)
