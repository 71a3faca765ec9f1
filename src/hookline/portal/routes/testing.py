"""Test sends: pick an event type, see its example, send it now, see request and response."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ...envelopes import build_body
from ...errors import InvalidInput, NotFound
from ...models import Attempt, Endpoint, EventType
from ..filters import partner_message, pretty_json
from ..forms import group_event_types
from ..web import Portal, PortalDep, PortalRoute
from .endpoints import catalogue, endpoint_page

router = APIRouter(route_class=PortalRoute)


def _pick(types: list[EventType], endpoint: Endpoint, wanted: str | None) -> EventType | None:
    """The requested event type, else the first one this endpoint subscribes to."""
    by_name = {et.name: et for et in types}
    if wanted in by_name:
        return by_name[wanted]
    for et in types:
        if not endpoint.filter_types or et.name in endpoint.filter_types:
            return et
    return types[0] if types else None


async def _page(portal: Portal, endpoint: Endpoint, event_type: EventType | None,
                payload: str, status: int = 200, **context: Any) -> HTMLResponse:
    types = await catalogue(portal)
    return await endpoint_page(
        portal, endpoint, "test.html", status, tab="test", groups=group_event_types(types),
        event_type=event_type.name if event_type else "",
        description=event_type.description if event_type else "", payload=payload, **context)


async def _request_body(portal: Portal, endpoint: Endpoint, attempt: Attempt) -> bytes:
    try:
        message = await portal.service.get_message(portal.app_id, attempt.message_id)
    except NotFound:
        return b""
    return build_body(message, endpoint)


@router.get("/endpoints/{endpoint_id}/test")
async def test_page(portal: PortalDep, endpoint_id: str,
                    event_type: str | None = None) -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    chosen = _pick(await catalogue(portal), endpoint, event_type)
    example = chosen.example if chosen and chosen.example is not None else {}
    return await _page(portal, endpoint, chosen, pretty_json(example))


@router.post("/endpoints/{endpoint_id}/test")
async def send_test(portal: PortalDep, endpoint_id: str, request: Request) -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    form = await request.form()
    name, text = str(form.get("event_type") or ""), str(form.get("payload") or "")
    chosen = _pick(await catalogue(portal), endpoint, name)
    event_type = chosen if chosen and chosen.name == name else EventType(name=name)
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError as exc:
        return await _page(portal, endpoint, event_type, text, 422,
                           error=f"The payload is not valid JSON: {exc}")
    try:
        attempt = await portal.service.send_example(portal.app_id, endpoint.id, name, payload)
    except InvalidInput as exc:
        return await _page(portal, endpoint, event_type, text, 422,
                           error=partner_message(exc))
    return await _page(portal, endpoint, event_type, text, attempt=attempt,
                       request_body=await _request_body(portal, endpoint, attempt))
