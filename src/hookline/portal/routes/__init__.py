"""The portal's pages, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from ...errors import NotFound
from ..web import PortalDep, PortalRoute
from . import auth, catalogue, endpoints, feed, logs, replays, testing

fallback = APIRouter(route_class=PortalRoute)


@fallback.get("/{path:path}")
async def not_found(portal: PortalDep, path: str) -> None:
    """Any other portal address: the portal's own 404 page rather than the API's JSON."""
    raise NotFound


routers: list[APIRouter] = [auth.router, endpoints.router, testing.router, logs.router,
                            replays.router, feed.router, catalogue.router, fallback]
