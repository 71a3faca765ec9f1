"""A partner reads its endpoint's pull feed with its portal session, as JSON in the shape of
Svix's poller (`GET /api/v1/app/{app}/poller/{endpoint}`): no API token needed, and only its
own application's endpoints are found. Reading moves no consumer's position."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from ...envelopes import iso_time
from ...errors import InvalidInput
from ...models import Message
from ...service.feed import FeedPage
from ..web import PortalDep, PortalJsonRoute

router = APIRouter(route_class=PortalJsonRoute)


def _after(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidInput("after must be an RFC 3339 date-time", field="after") from None


def _message(message: Message) -> dict[str, Any]:
    return {"id": message.id, "eventType": message.event_type, "eventId": message.event_id,
            "payload": message.payload, "channels": message.channels, "tags": message.tags,
            "timestamp": iso_time(message.created_at)}


def _document(page: FeedPage) -> dict[str, Any]:
    return {"data": [_message(m) for m in page.messages], "iterator": page.iterator,
            "done": page.done}


@router.get("/endpoints/{endpoint_id}/feed")
async def feed(portal: PortalDep, endpoint_id: str,
               limit: Annotated[int | None, Query(ge=1)] = None,
               iterator: Annotated[str | None, Query(max_length=64)] = None,
               event_type: Annotated[str | None, Query(max_length=256)] = None,
               channel: Annotated[str | None, Query(max_length=128)] = None,
               after: Annotated[str | None, Query(max_length=64)] = None) -> JSONResponse:
    """A page of the endpoint's feed, oldest first; pass `iterator` to read on."""
    page = await portal.service.read_feed(portal.app_id, endpoint_id, limit=limit,
                                          iterator=iterator, after=_after(after),
                                          event_type=event_type, channel=channel)
    return JSONResponse(_document(page))
