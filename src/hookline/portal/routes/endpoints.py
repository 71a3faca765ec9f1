"""Endpoints: the list, the overview, create and edit, the secret, (de)activate and delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from ...errors import InvalidInput
from ...models import Endpoint
from ...retry import recovers_itself
from ...service import ALL_EVENTS
from ..chart import hourly_chart
from ..forms import (
    ENVELOPE_CHOICES,
    PRESET_CHOICES,
    SCHEME_CHOICES,
    EndpointForm,
    group_event_types,
    shown_headers,
    signature_help,
)
from ..web import Portal, PortalDep, PortalRoute

router = APIRouter(route_class=PortalRoute)
ENDPOINTS_PER_PAGE = 100
CATALOGUE_LIMIT = 250
CHART_HOURS = 24


async def catalogue(portal: Portal) -> list[Any]:
    page = await portal.service.list_event_types(CATALOGUE_LIMIT, None)
    return [et for et in page.data if portal.session.sees(et)]


async def endpoint_page(portal: Portal, endpoint: Endpoint, template: str,
                        status: int = 200, **context: Any) -> HTMLResponse:
    """A page about one endpoint, with what its header shows (status, health)."""
    stats = await portal.service.endpoint_stats(portal.app_id, endpoint.id)
    waiting = await portal.service.waiting_count(endpoint)
    app = await portal.service.get_app(portal.app_id)
    return await portal.render(template, status, endpoint=endpoint, stats=stats, app=app,
                               waiting=waiting, probed=recovers_itself(endpoint, app),
                               signature_help=signature_help(endpoint), nav="endpoints",
                               **context)


async def form_page(portal: Portal, form: EndpointForm, endpoint: Endpoint | None = None,
                    status: int = 200, **extra: Any) -> HTMLResponse:
    types = await catalogue(portal)
    known = {et.name for et in types} | {g.pattern for g in group_event_types(types)}
    unknown = [name for name in form.events if name not in known and name != ALL_EVENTS]
    context: dict[str, Any] = dict(
        form=form, groups=group_event_types(types), extra_events=unknown,
        envelopes=ENVELOPE_CHOICES, schemes=SCHEME_CHOICES, presets=PRESET_CHOICES,
        production=portal.service.settings.production,
        timeout=f"{(endpoint.options.timeout if endpoint else 10):g}", **extra)
    if endpoint is None:
        return await portal.render("endpoint_form.html", status, endpoint=None,
                                   action="/portal/endpoints", nav="endpoints", **context)
    return await endpoint_page(portal, endpoint, "endpoint_form.html", status,
                               action=f"/portal/endpoints/{endpoint.id}/edit", **context)


@router.get("/")
async def index(portal: PortalDep) -> Response:
    if not portal.session.signed_in:
        return portal.redirect("/login")
    page = await portal.service.list_endpoints(portal.app_id, ENDPOINTS_PER_PAGE, None)
    rows = [{"endpoint": ep, "stats": await portal.service.endpoint_stats(portal.app_id, ep.id)}
            for ep in page.data]
    return await portal.render("endpoints.html", rows=rows, more=not page.done,
                               nav="endpoints")


@router.get("/endpoints/new")
async def new_endpoint(portal: PortalDep) -> HTMLResponse:
    portal.app_id  # noqa: B018 - a page about webhooks needs an application in scope
    return await form_page(portal, EndpointForm())


@router.post("/endpoints")
async def create_endpoint(portal: PortalDep, request: Request) -> Response:
    form = EndpointForm.parse(await request.form())
    try:
        endpoint = await portal.service.create_endpoint(portal.app_id, **form.changes())
    except InvalidInput as exc:
        return await form_page(portal, form.fail(exc), status=422)
    return portal.redirect(f"/endpoints/{endpoint.id}", notice="created")


@router.get("/endpoints/{endpoint_id}")
async def overview(portal: PortalDep, endpoint_id: str) -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    hours = await portal.service.endpoint_hourly(portal.app_id, endpoint.id, CHART_HOURS)
    return await endpoint_page(portal, endpoint, "endpoint.html", tab="overview",
                               chart=hourly_chart(hours), headers=shown_headers(endpoint))


@router.get("/endpoints/{endpoint_id}/edit")
async def edit_page(portal: PortalDep, endpoint_id: str) -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    return await form_page(portal, EndpointForm.of(endpoint), endpoint)


@router.post("/endpoints/{endpoint_id}/edit")
async def edit(portal: PortalDep, endpoint_id: str, request: Request) -> Response:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    form = EndpointForm.parse(await request.form())
    try:
        await portal.service.update_endpoint(portal.app_id, endpoint.id,
                                             **form.changes(endpoint))
    except InvalidInput as exc:
        return await form_page(portal, form.fail(exc), endpoint, status=422)
    return portal.redirect(f"/endpoints/{endpoint.id}", notice="saved")


@router.post("/endpoints/{endpoint_id}/secret/reveal")
async def reveal_secret(portal: PortalDep, endpoint_id: str, request: Request) -> Response:
    """The secret, only on an explicit request: JSON for the page's script, else the page."""
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"secret": endpoint.secret})
    if (await request.form()).get("back") == "edit":
        return await form_page(portal, EndpointForm.of(endpoint), endpoint,
                               revealed_secret=endpoint.secret)
    hours = await portal.service.endpoint_hourly(portal.app_id, endpoint.id, CHART_HOURS)
    return await endpoint_page(portal, endpoint, "endpoint.html", tab="overview",
                               chart=hourly_chart(hours), headers=shown_headers(endpoint),
                               revealed_secret=endpoint.secret)


@router.post("/endpoints/{endpoint_id}/secret/rotate")
async def rotate_secret(portal: PortalDep, endpoint_id: str) -> Response:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    await portal.service.rotate_endpoint_secret(portal.app_id, endpoint.id)
    return portal.redirect(f"/endpoints/{endpoint.id}", notice="rotated")


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation page asks before an action takes effect."""

    title: str
    button: str
    consequence: str
    danger: bool = False


CONFIRMATIONS = {
    "deactivate": Confirmation(
        "Deactivate this endpoint?", "Deactivate endpoint",
        "We stop sending it events until you reactivate it. Events published meanwhile wait "
        "for it and are sent once it is active again."),
    "delete": Confirmation(
        "Delete this endpoint?", "Delete endpoint",
        "We stop sending it events at once, and deliveries still waiting for it are dropped. "
        "This cannot be undone: to pause deliveries instead, deactivate it.", danger=True),
}


async def confirm(portal: Portal, endpoint_id: str, action: str) -> HTMLResponse:
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    return await portal.render("confirm.html", endpoint=endpoint, nav="endpoints",
                               action=action, ask=CONFIRMATIONS[action])


@router.get("/endpoints/{endpoint_id}/deactivate")
async def confirm_deactivate(portal: PortalDep, endpoint_id: str) -> HTMLResponse:
    return await confirm(portal, endpoint_id, "deactivate")


@router.post("/endpoints/{endpoint_id}/deactivate")
async def deactivate(portal: PortalDep, endpoint_id: str) -> Response:
    endpoint = await portal.service.update_endpoint(portal.app_id, endpoint_id, disabled=True)
    return portal.redirect(f"/endpoints/{endpoint.id}", notice="deactivated")


@router.post("/endpoints/{endpoint_id}/reactivate")
async def reactivate(portal: PortalDep, endpoint_id: str) -> Response:
    endpoint = await portal.service.update_endpoint(portal.app_id, endpoint_id, disabled=False)
    return portal.redirect(f"/endpoints/{endpoint.id}", notice="reactivated")


@router.post("/endpoints/{endpoint_id}/retry-now")
async def retry_now(portal: PortalDep, endpoint_id: str) -> Response:
    """Probe an endpoint its failures disabled, now (docs/recovery.md)."""
    outcome = await portal.service.retry_now(portal.app_id, endpoint_id)
    notice = ("probe-none" if outcome.attempt is None
              else "probe-ok" if outcome.enabled else "probe-failed")
    return portal.redirect(f"/endpoints/{endpoint_id}", notice=notice)


@router.get("/endpoints/{endpoint_id}/delete")
async def confirm_delete(portal: PortalDep, endpoint_id: str) -> HTMLResponse:
    return await confirm(portal, endpoint_id, "delete")


@router.post("/endpoints/{endpoint_id}/delete")
async def delete(portal: PortalDep, endpoint_id: str) -> Response:
    await portal.service.delete_endpoint(portal.app_id, endpoint_id)
    return portal.redirect("/", notice="deleted")
