"""Ways in and out: the signed portal link, the admin sign-in, the admin's application switcher."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ...errors import NotFound, Unauthorized
from ...tokens import PortalGrant
from ..session import PortalSession, new_session_id
from ..web import Portal, PortalDep, PortalRoute, render_page

router = APIRouter(route_class=PortalRoute)
APPS_PER_PAGE = 50


@router.get("/access")
async def open_link(portal: PortalDep, token: str = "") -> Response:
    """A partner's signed link: start a session for its application (the link is used up),
    then drop the token from the address bar by redirecting."""
    sid = new_session_id()
    await _sign_in(portal, sid, await portal.service.open_portal_link(token, sid))
    return portal.redirect("/")


@router.get("/login")
async def login_page(portal: PortalDep) -> HTMLResponse:
    return render_page(portal, "login.html")


@router.post("/login")
async def login(portal: PortalDep, request: Request) -> Response:
    form = await request.form()
    token = form.get("admin_token")
    sid = new_session_id()
    grant = (await portal.service.open_admin_session(token.strip(), sid)
             if isinstance(token, str) else None)
    if grant is None:
        return render_page(portal, "login.html", 401, error="That admin token is not valid.")
    await _sign_in(portal, sid, grant)
    return portal.redirect("/apps", notice="signed-in")


@router.post("/logout")
async def logout(portal: PortalDep) -> Response:
    """Sign out here and on the server: a copy of the cookie stops working too."""
    if portal.session.signed_in:
        await portal.service.end_portal_session(portal.session.sid)
    portal.start_session(PortalSession.anonymous(portal.now))
    return portal.redirect("/login", notice="signed-out")


async def _sign_in(portal: Portal, sid: str, grant: PortalGrant) -> None:
    """Replace the browser's session; the one it replaces ends on the server too."""
    if portal.session.signed_in:
        await portal.service.end_portal_session(portal.session.sid)
    portal.start_session(PortalSession.granted(sid, grant))


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
