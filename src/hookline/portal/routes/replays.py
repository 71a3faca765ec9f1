"""Recover, as preview then replay: the logs page's Recover asks what a replay-missing of the
chosen period would send (a dry run) and shows "Replay N messages?"; confirming starts that
replay as a background task, whose page follows it until it has finished.

The preview fixes the window's end, so confirming replays exactly the period it counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ...errors import InvalidInput, NotFound
from ...models import TaskStatus
from ...service.replay import REPLAY_MISSING
from ..web import Portal, PortalDep, PortalRoute
from .endpoints import endpoint_page

router = APIRouter(route_class=PortalRoute)
MAX_RECOVER_HOURS = 14 * 24
PREVIEWED = 5  # messages the preview lists
REFRESH_SECONDS = 1  # how often a running replay's page reloads itself


@dataclass(frozen=True)
class PreviewedMessage:
    id: str
    event_type: str


def _hours(raw: object) -> int:
    try:
        hours = int(str(raw))
    except ValueError:
        raise InvalidInput("choose how far back to recover") from None
    if not 1 <= hours <= MAX_RECOVER_HOURS:
        raise InvalidInput(f"recover at most {MAX_RECOVER_HOURS // 24} days back")
    return hours


def _moment(raw: object, field: str) -> float:
    try:
        return float(str(raw))
    except ValueError:
        raise InvalidInput(f"{field} is not a time; preview the replay again") from None


def _window(portal: Portal, since: float, until: float) -> tuple[float, float]:
    """A previewed window, checked again: it ends in the past and spans the allowed days."""
    if not portal.now - MAX_RECOVER_HOURS * 3600 - 3600 <= since <= until <= portal.now:
        raise InvalidInput("that period cannot be replayed; preview the replay again")
    return since, until


async def _previewed(portal: Portal, first_ids: list[str]) -> list[PreviewedMessage]:
    shown = []
    for message_id in first_ids[:PREVIEWED]:
        try:
            message = await portal.service.get_message(portal.app_id, message_id)
        except NotFound:  # purged since the count
            continue
        shown.append(PreviewedMessage(message.id, message.event_type))
    return shown


@router.get("/endpoints/{endpoint_id}/recover")
async def preview(portal: PortalDep, endpoint_id: str, since_hours: str = "") -> HTMLResponse:
    """What Recover would send: the count and the first messages, and a button to send them."""
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    since, until = portal.now - _hours(since_hours) * 3600, portal.now
    counted = await portal.service.replay_missing(portal.app_id, endpoint.id, since, until,
                                                  dry_run=True)
    return await endpoint_page(portal, endpoint, "replay.html", tab="logs", count=counted.count,
                               previewed=await _previewed(portal, counted.first_ids), since=since,
                               until=until, since_hours=since_hours)


@router.post("/endpoints/{endpoint_id}/recover")
async def replay(portal: PortalDep, endpoint_id: str, request: Request) -> Response:
    """Start the replay the preview showed, as a background task, and follow it."""
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    form = await request.form()
    since, until = _window(portal, _moment(form.get("since"), "since"),
                           _moment(form.get("until"), "until"))
    task = await portal.service.replay_missing(portal.app_id, endpoint.id, since, until)
    return portal.redirect(f"/endpoints/{endpoint.id}/replays/{task.id}")


@router.get("/endpoints/{endpoint_id}/replays/{task_id}")
async def replay_task(portal: PortalDep, endpoint_id: str, task_id: str) -> HTMLResponse:
    """A replay's state: running (the page reloads itself), finished with what it sent, or
    failed. Only this application's replays are found."""
    endpoint = await portal.service.get_endpoint(portal.app_id, endpoint_id)
    task = await portal.service.get_task(task_id, app_id=endpoint.app_id)
    if task.kind != REPLAY_MISSING:
        raise NotFound(f"replay {task_id!r} not found")
    running = task.status == TaskStatus.RUNNING
    return await endpoint_page(portal, endpoint, "replay_task.html", tab="logs", task=task,
                               running=running, refresh=REFRESH_SECONDS if running else None,
                               sent=int(task.data.get("messagesSent", 0)))
