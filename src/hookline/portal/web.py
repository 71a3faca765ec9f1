"""What every portal page shares: the session cookie and its server record, the CSRF check on
every POST, the read-only rule, HTML error pages, security headers and template rendering."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__
from ..errors import Forbidden, HooklineError, NotFound, Unauthorized
from ..service import Service
from ..tokens import SESSION_SECONDS
from . import filters
from .forms import ENVELOPE_LABELS, SCHEME_LABELS
from .session import (
    COOKIE_NAME,
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    CSRF_KEY_LABEL,
    SESSION_KEY_LABEL,
    PortalSession,
    SessionCodec,
)

PREFIX = "/portal"
PROBLEM_JSON = "application/problem+json"
STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Portal links carry a token in their query string: never send it on as a Referer.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_STATE_COOKIE = "portal_cookie"
# What a read-only session may still POST: signing out.
READ_ONLY_POSTS = frozenset({f"{PREFIX}/logout"})


def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


templates = Environment(loader=PackageLoader("hookline.portal", "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True,
                        lstrip_blocks=True)
filters.install(templates)
templates.globals["asset_version"] = _asset_version()
templates.globals["version"] = __version__
# Partners read the names the form offers, not the API's identifiers.
templates.globals["envelope_labels"] = ENVELOPE_LABELS
templates.globals["scheme_labels"] = SCHEME_LABELS


def _codec(service: Service) -> SessionCodec:
    box = service.box
    return SessionCodec(box.derive(SESSION_KEY_LABEL), box.derive(CSRF_KEY_LABEL))


class CsrfRejected(Forbidden):
    """This form has expired or did not come from the portal; reload the page and try again."""


class SignInRequired(Unauthorized):
    """Open the portal through a fresh link, or sign in as an administrator."""


class ReadOnlyAccess(Forbidden):
    """This portal link gives read-only access: you can look, but not change anything or see
    signing secrets. Ask for a link that allows changes."""


@dataclass
class Portal:
    """One request's view of the portal: who is looking, at which application."""

    request: Request
    service: Service
    session: PortalSession
    codec: SessionCodec
    now: float

    @property
    def app_id(self) -> str:
        """The application in scope; pages about webhooks need one."""
        if self.session.app_id is None:
            raise SignInRequired
        return self.session.app_id

    def start_session(self, session: PortalSession) -> None:
        """Replace the session (sign-in, app switch, sign-out) when the response goes out."""
        self.session = session
        self.request.state.portal_cookie = session

    @property
    def csrf_token(self) -> str:
        return self.codec.csrf_token(self.session)

    async def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A page, with the application in scope (if any) for the header."""
        if "app" not in context and self.session.app_id is not None:
            context["app"] = await self.service.get_app(self.session.app_id)
        return render_page(self, template, status, **context)

    def redirect(self, path: str, **query: str | None) -> RedirectResponse:
        """303 to a portal path; `notice` picks one of the fixed messages in filters.NOTICES."""
        params = {k: v for k, v in query.items() if v is not None}
        target = PREFIX + path + (("?" + urlencode(params)) if params else "")
        return RedirectResponse(target, status_code=303)


def render_page(portal: Portal | None, template: str, status: int = 200,
                **context: Any) -> HTMLResponse:
    page = templates.get_template(template)
    request = portal.request if portal else None
    notice = request.query_params.get("notice") if request is not None else None
    html = page.render(portal=portal, session=portal.session if portal else None,
                       csrf_field=CSRF_FIELD, csrf_token=portal.csrf_token if portal else "",
                       notice=filters.NOTICES.get(notice or ""), **context)
    return HTMLResponse(html, status_code=status)


def get_portal(request: Request) -> Portal:
    portal: Portal = request.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


class PortalRoute(APIRoute):
    """Every portal route: load or start the session, refuse a POST without the session's CSRF
    token, render HTML for errors, and write the session cookie back."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            portal = _load_portal(request)
            try:
                await _resume(portal)
                if request.method not in ("GET", "HEAD"):
                    await _check_csrf(portal)
                    if portal.session.read_only and request.url.path not in READ_ONLY_POSTS:
                        raise ReadOnlyAccess
                response = await handler(request)
            except HooklineError as exc:
                response = self.error_response(portal, exc)
            except RequestValidationError:
                response = self.error_response(
                    portal, HooklineError("this request is not valid"), 400)
            _finish(request, portal, response)
            return response

        return portal_handler

    def error_response(self, portal: Portal, exc: HooklineError,
                       status: int | None = None) -> Response:
        return error_page(portal, exc, status)


class PortalJsonRoute(PortalRoute):
    """A portal route a script reads (a partner's feed under its session): the same session
    rules, errors as problem+json rather than pages."""

    def error_response(self, portal: Portal, exc: HooklineError,
                       status: int | None = None) -> Response:
        code = status or exc.status
        body = {"type": "about:blank", "title": exc.title, "status": code,
                "detail": filters.partner_message(exc)}
        return JSONResponse(body, status_code=code, media_type=PROBLEM_JSON)


def _load_portal(request: Request) -> Portal:
    """The portal as the cookie says; a signed-in session counts once `_resume` checked it."""
    service: Service = request.app.state.service
    codec = _codec(service)
    now = time.time()
    raw = request.cookies.get(COOKIE_NAME)
    session = codec.decode(raw, now) if raw else None
    portal = Portal(request, service, session or PortalSession.anonymous(now), codec, now)
    request.state.portal = portal
    if session is None:
        request.state.portal_cookie = portal.session
    return portal


async def _resume(portal: Portal) -> None:
    """Hold a signed-in session to its server record: one that was ended (sign-out,
    expire-all, a new admin token) is a visitor's again, and what the record says (admin,
    read-only, the partner's application) wins over the cookie."""
    session = portal.session
    if not session.signed_in:
        return
    grant = await portal.service.portal_grant(session.sid)
    if grant is None:
        portal.start_session(PortalSession.anonymous(portal.now))
    else:
        portal.session = session.under(grant)


async def _check_csrf(portal: Portal) -> None:
    request = portal.request
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not portal.codec.csrf_valid(portal.session, token):
        raise CsrfRejected


def _finish(request: Request, portal: Portal, response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    session: PortalSession | None = getattr(request.state, _STATE_COOKIE, None)
    if session is None:
        return
    settings = portal.service.settings
    response.set_cookie(
        COOKIE_NAME, portal.codec.encode(session), max_age=SESSION_SECONDS, path=COOKIE_PATH,
        secure=settings.production or settings.base_url.startswith("https://"),
        httponly=True, samesite="lax")


def error_page(portal: Portal, exc: HooklineError, status: int | None = None) -> Response:
    if isinstance(exc, SignInRequired) and portal.session.admin:
        return portal.redirect("/apps")
    code = status or exc.status
    titles = {404: "Not found", 403: "Not allowed", 401: "Sign in to continue",
              422: "Check your input"}
    detail = filters.partner_message(exc)
    if isinstance(exc, NotFound):
        detail = "This page does not exist, or it belongs to another application."
    return render_page(portal, "error.html", code, title=titles.get(code, exc.title),
                       detail=detail, code=code)
