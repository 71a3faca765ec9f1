"""Delivery logs: one row per message, its attempts nested with their full request and
response; filters on outcome, event type, date and time; resend (Recover is replays.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ...envelopes import build_body
from ...errors import InvalidInput, NotFound
from ...models import Endpoint, Message
from ...service.messages import MessageLog
from ..filters import partner_message
from ..web import Portal, PortalDep, PortalRoute
from .endpoints import catalogue, endpoint_page

router = APIRouter(route_class=PortalRoute)
MESSAGES_PER_PAGE = 20


@dataclass
class LogFilters:
    status: str = ""
    event_type: str = ""
    after: str = ""
    after_time: str = ""
    before: str = ""
    before_time: str = ""
    iterator: str = ""
    invalid: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.event_type or self.after or self.before
                    or self.after_time or self.before_time)

    def query(self, **changes: str) -> str:
        values = {"status": self.status, "event_type": self.event_type, "after": self.after,
                  "after_time": self.after_time, "before": self.before,
                  "before_time": self.before_time, "iterator": self.iterator, **changes}
        return urlencode({k: v for k, v in values.items() if v})

    def service_filters(self) -> dict[str, Any]:
        """endpoint_log keyword arguments. Dates and times are UTC; `Until` includes its
        minute, or its whole day when no time is given."""
        found: dict[str, Any] = {}
        if self.status in ("succeeded", "failed"):
            found["succeeded"] = self.status == "succeeded"
        if self.event_type:
            found["event_types"] = [self.event_type]
        if self.after or self.after_time:
            found["after"] = _moment(self.after, self.after_time, "From")
        if self.before or self.before_time:
            found["before"] = _moment(self.before, self.before_time, "Until") + (
                60 if self.before_time else timedelta(days=1).total_seconds())
        return found


def _moment(day_text: str, time_text: str, label: str) -> float:
    if not day_text:
        raise InvalidInput(f"{label}: choose a date for the time")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise InvalidInput(f"{label}: {day_text!r} is not a date (YYYY-MM-DD)") from None
    try:
        moment = time.fromisoformat(time_text) if time_text else time()
    except ValueError:
        raise InvalidInput(f"{label}: {time_text!r} is not a time (HH:MM)") from None
    return datetime.combine(day, moment.replace(second=0, microsecond=0),
                            tzinfo=UTC).timestamp()


@dataclass
class LogRow:
    """One message in the log: its attempts (newest first), event type and the body sent."""

    log: MessageLog
    event_type: str
    request_body: bytes
    expunged: bool = False  # the message's content was erased (docs/retention.md)


async def _rows(portal: Portal, endpoint: Endpoint, logs: list[MessageLog]) -> list[LogRow]:
    """Each message with its event type and the body it sent, rebuilt from the message; the
    page's messages are read in one query, not one each."""
    messages = await portal.service.messages_of(portal.app_id, [log.message_id for log in logs])
    rows = []
    for log in logs:
        message: Message | None = messages.get(log.message_id)
        expunged = message is not None and message.expunged
        body = build_body(message, endpoint) if message and not expunged else b""
        rows.append(LogRow(log, message.event_type if message else "unknown", body, expunged))
    return rows


@router.get("/endpoints/{endpoint_id}/logs")
async def logs(portal: PortalDep, endpoint_id: str, status: str = "", event_type: str = "",
               after: str = "", after_time: str = "", before: str = "", before_time: str = "",
               iterator: str = "") -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    filters = LogFilters(status, event_type, after, after_time, before, before_time, iterator)
    try:
        page = await portal.service.endpoint_log(
            portal.app_id, endpoint.id, MESSAGES_PER_PAGE, iterator or None,
            **filters.service_filters())
        found, older = page.data, None if page.done else page.iterator
    except InvalidInput as exc:
        filters.invalid, found, older = partner_message(exc), [], None
    names = sorted({et.name for et in await catalogue(portal)} | (
        {event_type} if event_type else set()))
    return await endpoint_page(
        portal, endpoint, "logs.html", tab="logs", filters=filters, event_names=names,
        rows=await _rows(portal, endpoint, found), open_first=not iterator,
        older_query=filters.query(iterator=older) if older else None,
        newest_query=filters.query(iterator=""))


@router.post("/endpoints/{endpoint_id}/resend")
async def resend(portal: PortalDep, endpoint_id: str, request: Request) -> Response:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    message_id = (await request.form()).get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise NotFound("message not found")
    await portal.service.resend(portal.app_id, message_id, endpoint.id)
    return portal.redirect(f"/endpoints/{endpoint.id}/logs", notice="resent")
