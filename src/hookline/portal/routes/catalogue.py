"""The event catalogue: every event type with its description, schema and example."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ..forms import group_event_types
from ..web import PortalDep, PortalRoute
from .endpoints import catalogue

router = APIRouter(route_class=PortalRoute)


@router.get("/events")
async def events(portal: PortalDep) -> HTMLResponse:
    portal.app_id  # noqa: B018 - the catalogue is shown inside an application's portal
    return await portal.render("catalogue.html", groups=group_event_types(
        [et for et in await catalogue(portal) if not et.archived]), nav="events")
