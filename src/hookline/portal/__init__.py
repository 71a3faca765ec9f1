"""The partner portal: server-rendered pages where partners manage their webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..config import Settings


def mount_portal(app: FastAPI, settings: Settings) -> None:
    """Serve the portal at /portal/ and its assets at /portal/static/."""
    # Imported here: the service imports `portal.access`, and the routes import the service.
    from fastapi.staticfiles import StaticFiles

    from .routes import routers
    from .web import STATIC_DIR

    # Assets first: the pages end with a catch-all that answers unknown paths with a 404 page.
    app.mount("/portal/static", StaticFiles(directory=STATIC_DIR), name="portal-static")
    for router in routers:
        app.include_router(router, prefix="/portal", include_in_schema=False)


__all__ = ["mount_portal"]
