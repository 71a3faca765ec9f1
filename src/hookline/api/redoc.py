"""ReDoc at `/redoc` with nothing loaded from outside: fastapi-offline ships ReDoc's script
(MIT), but that script still fetches its footer logo from Redocly's CDN. Hookline serves the
script with that one address pointed at a small logo of its own, served beside it."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

ASSETS = "/redoc-assets"
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# Relative to the page (/redoc), so it holds behind a proxy's root path too.
LOCAL_LOGO = "redoc-assets/logo.svg"
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="16" height="16">'
        '<path d="M8 2v7a3 3 0 1 1-3-3" fill="none" stroke="#32329f" stroke-width="2"/></svg>')
CACHED = {"Cache-Control": "public, max-age=86400"}

router = APIRouter(include_in_schema=False)


@cache
def redoc_script() -> bytes:
    """fastapi-offline's ReDoc bundle, its CDN logo replaced by Hookline's own."""
    bundle = files("fastapi_offline").joinpath("static/redoc.standalone.js").read_bytes()
    return bundle.replace(CDN_LOGO.encode(), LOCAL_LOGO.encode())


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(openapi_url=f"{root}{request.app.openapi_url}",
                          title=f"{request.app.title} - ReDoc",
                          redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{root}/docs-assets/favicon.png",
                          with_google_fonts=False)


@router.get(f"{ASSETS}/redoc.standalone.js")
async def redoc_js() -> Response:
    return Response(redoc_script(), media_type="text/javascript", headers=CACHED)


@router.get(f"{ASSETS}/logo.svg")
async def redoc_logo() -> Response:
    return Response(LOGO, media_type="image/svg+xml", headers=CACHED)
