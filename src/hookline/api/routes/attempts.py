from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...errors import InvalidInput
from ...models import Attempt
from ..deps import AppDep, Iterator, Limit, ServiceDep, split_csv
from ..schemas import (
    STATUS_FAIL,
    STATUS_SUCCESS,
    DateTime,
    EventFilterList,
    ListResponse,
    MessageAttemptOut,
    MessageOut,
)

router = APIRouter(prefix="/app/{app_id}", tags=["Message Attempt"])
StatusQuery = Annotated[int | None, Query(ge=0, le=4,
                                          description="0 success, 2 failed (Svix codes)")]
EventTypesQuery = Annotated[EventFilterList | None,
                            Query(description="repeat or comma-separate")]
WithContent = Annotated[bool, Query(description="false leaves response bodies out (Svix)")]


STATUS_CODE_CLASSES = (0, 100, 200, 300, 400, 500)


@dataclass
class AttemptQuery:
    """The filters and options both attempt lists take (Svix's names)."""

    limit: Limit = None
    iterator: Iterator = None
    status: StatusQuery = None
    status_code_class: Annotated[int | None, Query(
        description="0: no response; else the status's hundreds: 100, 200 ... 500 (Svix)",
        json_schema_extra={"enum": list(STATUS_CODE_CLASSES)})] = None
    channel: Annotated[str | None, Query(max_length=128)] = None
    tag: Annotated[str | None, Query(max_length=128)] = None
    event_types: EventTypesQuery = None
    before: DateTime | None = None
    after: DateTime | None = None
    with_content: WithContent = True
    with_msg: Annotated[bool, Query(description="each attempt carries its message as `msg`, "
                                                "without the payload (Svix)")] = False
    expanded_statuses: Annotated[bool, Query(
        description="Svix's canceled status (4): Hookline never cancels an attempt, so "
                    "this changes nothing")] = False


AttemptQueryDep = Annotated[AttemptQuery, Depends()]


async def _list(service: ServiceDep, app_id: str, query: AttemptQuery,
                **scope: str) -> ListResponse[MessageAttemptOut]:
    if query.status_code_class not in (None, *STATUS_CODE_CLASSES):
        raise InvalidInput("status_code_class must be 0, 100, 200, 300, 400 or 500",
                           field="status_code_class")
    if query.status is not None and query.status not in (STATUS_SUCCESS, STATUS_FAIL):
        # Stored attempts are finished; pending, sending and canceled ones are not listed.
        return ListResponse(data=[], iterator=None, done=True)
    succeeded = None if query.status is None else query.status == STATUS_SUCCESS
    page = await service.list_attempts(
        app_id, query.limit, query.iterator, succeeded=succeeded,
        event_types=split_csv(query.event_types),
        before=query.before.timestamp() if query.before else None,
        after=query.after.timestamp() if query.after else None,
        status_code_class=query.status_code_class, channel=query.channel, tag=query.tag,
        **scope)
    messages = (await service.messages_of(app_id, [a.message_id for a in page.data])
                if query.with_msg else {})

    def shown(attempt: Attempt) -> MessageAttemptOut:
        out = MessageAttemptOut.of(attempt, query.with_content)
        message = messages.get(attempt.message_id)
        if message is not None:
            out.msg = MessageOut.of(message, with_content=False)
        return out

    return ListResponse.of(page, shown)


@router.get("/attempt/msg/{msg_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_message(app: AppDep, msg_id: str, service: ServiceDep,
                                   query: AttemptQueryDep, endpoint_id: str | None = None,
                                   ) -> ListResponse[MessageAttemptOut]:
    scope = {"message_id": msg_id}
    if endpoint_id:
        scope["endpoint_id"] = endpoint_id
    return await _list(service, app.id, query, **scope)


@router.get("/attempt/endpoint/{endpoint_id}", response_model=ListResponse[MessageAttemptOut])
async def list_attempts_by_endpoint(app: AppDep, endpoint_id: str, service: ServiceDep,
                                    query: AttemptQueryDep) -> ListResponse[MessageAttemptOut]:
    return await _list(service, app.id, query, endpoint_id=endpoint_id)


@router.get("/msg/{msg_id}/attempt/{attempt_id}", response_model=MessageAttemptOut)
async def get_attempt(app: AppDep, msg_id: str, attempt_id: str,
                      service: ServiceDep) -> MessageAttemptOut:
    attempt = await service.get_attempt(app.id, msg_id, attempt_id)
    return MessageAttemptOut.of(attempt)
