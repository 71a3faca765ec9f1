from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import AppDep, Iterator, Limit, ServiceDep, split_csv
from ..schemas import (
    STATUS_FAIL,
    STATUS_SUCCESS,
    DateTime,
    EventFilterList,
    ListResponse,
    MessageAttemptOut,
)

router = APIRouter(prefix="/app/{app_id}", tags=["Message Attempt"])
StatusQuery = Annotated[int | None, Query(ge=0, le=4,
                                          description="0 success, 2 failed (Svix codes)")]
EventTypesQuery = Annotated[EventFilterList | None,
                            Query(description="repeat or comma-separate")]
WithContent = Annotated[bool, Query(description="false leaves response bodies out (Svix)")]


async def _list(service: ServiceDep, app_id: str, limit: int | None, iterator: str | None,
                status: int | None, event_types: list[str] | None, before: DateTime | None,
                after: DateTime | None, with_content: bool,
                **scope: str) -> ListResponse[MessageAttemptOut]:
    if status is not None and status not in (STATUS_SUCCESS, STATUS_FAIL):
        # Stored attempts are finished; pending, sending and canceled ones are not listed.
        return ListResponse(data=[], iterator=None, done=True)
    succeeded = None if status is None else status == STATUS_SUCCESS
    page = await service.list_attempts(
        app_id, limit, iterator, succeeded=succeeded, event_types=split_csv(event_types),
        before=before.timestamp() if before else None,
        after=after.timestamp() if after else None, **scope)
    return ListResponse.of(page, lambda a: MessageAttemptOut.of(a, with_content))


@router.get("/attempt/msg/{msg_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_message(
    app: AppDep, msg_id: str, service: ServiceDep, limit: Limit = None,
    iterator: Iterator = None, status: StatusQuery = None, event_types: EventTypesQuery = None,
    endpoint_id: str | None = None, before: DateTime | None = None,
    after: DateTime | None = None, with_content: WithContent = True,
) -> ListResponse[MessageAttemptOut]:
    scope = {"message_id": msg_id}
    if endpoint_id:
        scope["endpoint_id"] = endpoint_id
    return await _list(service, app.id, limit, iterator, status, event_types, before, after,
                       with_content, **scope)


@router.get("/attempt/endpoint/{endpoint_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_endpoint(
    app: AppDep, endpoint_id: str, service: ServiceDep, limit: Limit = None,
    iterator: Iterator = None, status: StatusQuery = None, event_types: EventTypesQuery = None,
    before: DateTime | None = None, after: DateTime | None = None,
    with_content: WithContent = True,
) -> ListResponse[MessageAttemptOut]:
    return await _list(service, app.id, limit, iterator, status, event_types, before, after,
                       with_content, endpoint_id=endpoint_id)


@router.get("/msg/{msg_id}/attempt/{attempt_id}", response_model=MessageAttemptOut)
async def get_attempt(app: AppDep, msg_id: str, attempt_id: str,
                      service: ServiceDep) -> MessageAttemptOut:
    attempt = await service.get_attempt(app.id, msg_id, attempt_id)
    return MessageAttemptOut.of(attempt)
