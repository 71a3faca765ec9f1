"""Ways in and out: the signed portal link, the admin sign-in, the admin's application switcher."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ...errors import NotFound, Unauthorized
from ..access import PORTAL_KEY_LABEL, verify_portal_token
from ..session import PortalSession
from ..web import Portal, PortalDep, PortalRoute, render_page

router = APIRouter(route_class=PortalRoute)
APPS_PER_PAGE = 50


@router.get("/access")
async def open_link(portal: PortalDep, token: str = "") -> Response:
    """A partner's signed link: start a session for its application, then drop the token from
    the address bar by redirecting."""
    key = portal.service.box.derive(PORTAL_KEY_LABEL)
    app_id = verify_portal_token(key, token, portal.now)
    app = await portal.service.get_app(app_id)
    portal.start_session(PortalSession.partner(app.id, portal.now))
    return portal.redirect("/")


@router.get("/login")
async def login_page(portal: PortalDep) -> HTMLResponse:
    return render_page(portal, "login.html")


@router.post("/login")
async def login(portal: PortalDep, request: Request) -> Response:
    form = await request.form()
    token = form.get("admin_token")
    if not isinstance(token, str) or not await portal.service.is_admin_token(token.strip()):
        return render_page(portal, "login.html", 401, error="That admin token is not valid.")
    portal.start_session(PortalSession.administrator(portal.now))
    return portal.redirect("/apps", notice="signed-in")


@router.post("/logout")
async def logout(portal: PortalDep) -> Response:
    portal.start_session(PortalSession.anonymous(portal.now))
    return portal.redirect("/login", notice="signed-out")


def _require_admin(portal: Portal) -> None:
    if not portal.session.admin:
        raise Unauthorized("this page is for administrators; sign in with the admin token")


@router.get("/apps")
async def apps(portal: PortalDep, iterator: str | None = None) -> HTMLResponse:
    _require_admin(portal)
    page = await portal.service.list_apps(APPS_PER_PAGE, iterator)
    more = None if page.done else urlencode({"iterator": page.iterator})
    return await portal.render("apps.html", apps=page.data, more_query=more, nav="apps")


@router.post("/apps/switch")
async def switch_app(portal: PortalDep, request: Request) -> Response:
    _require_admin(portal)
    app_id = (await request.form()).get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise NotFound("application not found")
    app = await portal.service.get_app(app_id)
    portal.start_session(portal.session.switched_to(app.id))
    return portal.redirect("/")
