"""Delivery logs: every attempt with its full request and response, resend and recover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ...envelopes import build_body
from ...errors import InvalidInput, NotFound
from ...models import Attempt, Endpoint, Message
from ..web import Portal, PortalDep, PortalRoute
from .endpoints import catalogue, endpoint_page

router = APIRouter(route_class=PortalRoute)
ATTEMPTS_PER_PAGE = 20
MAX_RECOVER_HOURS = 14 * 24


@dataclass
class LogFilters:
    status: str = ""
    event_type: str = ""
    after: str = ""
    before: str = ""
    iterator: str = ""
    invalid: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.event_type or self.after or self.before)

    def query(self, **changes: str) -> str:
        values = {"status": self.status, "event_type": self.event_type, "after": self.after,
                  "before": self.before, "iterator": self.iterator, **changes}
        return urlencode({k: v for k, v in values.items() if v})

    def service_filters(self) -> dict[str, Any]:
        """list_attempts keyword arguments; dates are whole UTC days, `before` inclusive."""
        found: dict[str, Any] = {}
        if self.status in ("succeeded", "failed"):
            found["succeeded"] = self.status == "succeeded"
        if self.event_type:
            found["event_types"] = [self.event_type]
        if self.after:
            found["after"] = _day_start(self.after)
        if self.before:
            found["before"] = _day_start(self.before) + timedelta(days=1).total_seconds()
        return found


def _day_start(text: str) -> float:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass
class LogEntry:
    attempt: Attempt
    event_type: str
    request_body: bytes
    expunged: bool = False  # the message's content was erased (docs/retention.md)


async def _entries(portal: Portal, endpoint: Endpoint, attempts: list[Attempt]
                   ) -> list[LogEntry]:
    """Each attempt with its event type and the body it sent, rebuilt from its message."""
    messages: dict[str, Message | None] = {}
    entries = []
    for attempt in attempts:
        if attempt.message_id not in messages:
            try:
                messages[attempt.message_id] = await portal.service.get_message(
                    portal.app_id, attempt.message_id)
            except NotFound:
                messages[attempt.message_id] = None
        message = messages[attempt.message_id]
        expunged = message is not None and message.expunged
        body = build_body(message, endpoint) if message and not expunged else b""
        entries.append(LogEntry(attempt, message.event_type if message else "unknown", body,
                                expunged))
    return entries


@router.get("/endpoints/{endpoint_id}/logs")
async def logs(portal: PortalDep, endpoint_id: str, status: str = "", event_type: str = "",
               after: str = "", before: str = "", iterator: str = "") -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    filters = LogFilters(status, event_type, after, before, iterator)
    try:
        page = await portal.service.list_attempts(
            portal.app_id, ATTEMPTS_PER_PAGE, iterator or None, endpoint_id=endpoint.id,
            **filters.service_filters())
        attempts, older = page.data, None if page.done else page.iterator
    except InvalidInput as exc:
        filters.invalid, attempts, older = exc.detail, [], None
    names = sorted({et.name for et in await catalogue(portal)} | (
        {event_type} if event_type else set()))
    return await endpoint_page(
        portal, endpoint, "logs.html", tab="logs", filters=filters, event_names=names,
        entries=await _entries(portal, endpoint, attempts), open_first=not iterator,
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


@router.post("/endpoints/{endpoint_id}/recover")
async def recover(portal: PortalDep, endpoint_id: str, request: Request) -> Response:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    raw = (await request.form()).get("since_hours")
    try:
        hours = int(str(raw))
    except ValueError:
        raise InvalidInput("choose how far back to recover") from None
    if not 1 <= hours <= MAX_RECOVER_HOURS:
        raise InvalidInput(f"recover at most {MAX_RECOVER_HOURS // 24} days back")
    count = await portal.service.recover(portal.app_id, endpoint.id, portal.now - hours * 3600)
    return portal.redirect(f"/endpoints/{endpoint.id}/logs",
                           notice="recovered" if count else "recovered-none")
