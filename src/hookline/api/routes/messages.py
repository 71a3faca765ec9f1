from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from ..deps import AppDep, Iterator, Limit, PrincipalDep, ServiceDep, split_csv
from ..schemas import DateTime, EmptyOut, EventFilterList, ListResponse, MessageIn, MessageOut

router = APIRouter(prefix="/app/{app_id}/msg", tags=["Message"])
WithContent = Annotated[bool, Query(description="false leaves payloads out (Svix)")]


@router.post("", response_model=MessageOut, status_code=202,
             responses={200: {"model": MessageOut,
                              "description": "the first message for this idempotency-key"}})
async def create_message(
    app: AppDep,
    body: MessageIn,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=256)] = None,
    with_content: WithContent = True,
) -> MessageOut:
    """Publish an event: stored and fanned out to every matching endpoint before this returns.
    The same `idempotency-key` within 24 h returns the first message and creates nothing."""
    principal.require_write()
    result = await service.publish(app.id, body.event_type, body.payload,
                                   event_id=body.event_id, channels=body.channels,
                                   ordering_key=body.ordering_key,
                                   idempotency_key=idempotency_key)
    if not result.created:
        response.status_code = 200
    return MessageOut.of(result.message, with_content)


@router.get("", response_model=ListResponse[MessageOut])
async def list_messages(
    app: AppDep,
    service: ServiceDep,
    limit: Limit = None,
    iterator: Iterator = None,
    event_types: Annotated[EventFilterList | None, Query(description="repeat or comma-separate")
                           ] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    before: DateTime | None = None,
    after: DateTime | None = None,
    with_content: WithContent = True,
) -> ListResponse[MessageOut]:
    page = await service.list_messages(
        app.id, limit, iterator, event_types=split_csv(event_types), channel=channel,
        before=before.timestamp() if before else None,
        after=after.timestamp() if after else None)
    return ListResponse(data=[MessageOut.of(m, with_content) for m in page.data],
                        iterator=page.iterator, done=page.done)


@router.get("/{msg_id}", response_model=MessageOut)
async def get_message(app: AppDep, msg_id: str, service: ServiceDep,
                      with_content: WithContent = True) -> MessageOut:
    return MessageOut.of(await service.get_message(app.id, msg_id), with_content)


@router.post("/{msg_id}/endpoint/{endpoint_id}/resend", response_model=EmptyOut,
             status_code=202)
async def resend(app: AppDep, msg_id: str, endpoint_id: str, principal: PrincipalDep,
                 service: ServiceDep) -> EmptyOut:
    """Send the message to the endpoint again now, with a fresh retry budget."""
    principal.require_write()
    await service.resend(app.id, msg_id, endpoint_id)
    return EmptyOut()
