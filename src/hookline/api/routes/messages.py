from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from ..deps import AppDep, Iterator, Limit, PrincipalDep, ServiceDep
from ..schemas import ListResponse, MessageIn, MessageOut

router = APIRouter(prefix="/app/{app_id}/msg", tags=["Message"])


@router.post("", response_model=MessageOut, status_code=202)
async def create_message(
    app: AppDep,
    body: MessageIn,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=256)] = None,
) -> MessageOut:
    """Publish an event: stored and fanned out to every matching endpoint before this returns.
    The same `idempotency-key` within 24 h returns the first message and creates nothing."""
    principal.require_write()
    result = await service.publish(app.id, body.event_type, body.payload,
                                   event_id=body.event_id, channels=body.channels,
                                   idempotency_key=idempotency_key)
    if not result.created:
        response.status_code = 200
    return MessageOut.of(result.message)


@router.get("", response_model=ListResponse[MessageOut])
async def list_messages(
    app: AppDep,
    service: ServiceDep,
    limit: Limit = None,
    iterator: Iterator = None,
    event_types: Annotated[list[str] | None, Query()] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    before: datetime | None = None,
    after: datetime | None = None,
) -> ListResponse[MessageOut]:
    page = await service.list_messages(
        app.id, limit, iterator, event_types=event_types, channel=channel,
        before=before.timestamp() if before else None,
        after=after.timestamp() if after else None)
    return ListResponse(data=[MessageOut.of(m) for m in page.data], iterator=page.iterator,
                        done=page.done)


@router.get("/{msg_id}", response_model=MessageOut)
async def get_message(app: AppDep, msg_id: str, service: ServiceDep) -> MessageOut:
    return MessageOut.of(await service.get_message(app.id, msg_id))


@router.post("/{msg_id}/endpoint/{endpoint_id}/resend", status_code=202)
async def resend(app: AppDep, msg_id: str, endpoint_id: str, principal: PrincipalDep,
                 service: ServiceDep) -> Response:
    """Send the message to the endpoint again now, with a fresh retry budget."""
    principal.require_write()
    await service.resend(app.id, msg_id, endpoint_id)
    return Response(status_code=202)
