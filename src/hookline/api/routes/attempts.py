from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import AppDep, Iterator, Limit, ServiceDep
from ..schemas import STATUS_FAIL, STATUS_SUCCESS, ListResponse, MessageAttemptOut

router = APIRouter(prefix="/app/{app_id}/attempt", tags=["Message Attempt"])
StatusQuery = Annotated[int | None, Query(ge=0, le=3,
                                          description="0 success, 2 failed (Svix codes)")]


async def _list(service: ServiceDep, app_id: str, limit: int | None, iterator: str | None,
                status: int | None, event_types: list[str] | None, before: datetime | None,
                after: datetime | None, **scope: str) -> ListResponse[MessageAttemptOut]:
    succeeded = {STATUS_SUCCESS: True, STATUS_FAIL: False}.get(status) if status is not None \
        else None
    page = await service.list_attempts(
        app_id, limit, iterator, succeeded=succeeded, event_types=event_types,
        before=before.timestamp() if before else None,
        after=after.timestamp() if after else None, **scope)
    return ListResponse(data=[MessageAttemptOut.of(a) for a in page.data],
                        iterator=page.iterator, done=page.done)


@router.get("/msg/{msg_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_message(
    app: AppDep, msg_id: str, service: ServiceDep, limit: Limit = None,
    iterator: Iterator = None, status: StatusQuery = None,
    event_types: Annotated[list[str] | None, Query()] = None,
    endpoint_id: str | None = None, before: datetime | None = None,
    after: datetime | None = None,
) -> ListResponse[MessageAttemptOut]:
    scope = {"message_id": msg_id}
    if endpoint_id:
        scope["endpoint_id"] = endpoint_id
    return await _list(service, app.id, limit, iterator, status, event_types, before, after,
                       **scope)


@router.get("/endpoint/{endpoint_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_endpoint(
    app: AppDep, endpoint_id: str, service: ServiceDep, limit: Limit = None,
    iterator: Iterator = None, status: StatusQuery = None,
    event_types: Annotated[list[str] | None, Query()] = None,
    before: datetime | None = None, after: datetime | None = None,
) -> ListResponse[MessageAttemptOut]:
    return await _list(service, app.id, limit, iterator, status, event_types, before, after,
                       endpoint_id=endpoint_id)
