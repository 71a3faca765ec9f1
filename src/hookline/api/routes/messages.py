from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field, SkipValidation, ValidationError

from ...errors import HooklineError, NotFound, StaleConfiguration
from ...models import Application, Message
from ...retention import payload_life
from ...service import Service
from ...service.messages import MAX_BATCH, BatchResult, MessageDraft
from ..auth import authenticate
from ..deps import (
    AppDep,
    Iterator,
    Limit,
    PublishingAppOrNone,
    ServiceDep,
    app_in_scope,
    split_csv,
)
from ..idempotency import IdempotencyDep, IdempotencyKey
from ..problems import Problem, problem_body
from ..schemas import (
    DateTime,
    EmptyOut,
    EventFilterList,
    InputSchema,
    ListResponse,
    MessageIn,
    MessageOut,
    Schema,
    built,
)
from ..svix_schemas import MessageEndpointOut, MessagePrecheckIn, MessagePrecheckOut

router = APIRouter(prefix="/app/{app_id}/msg", tags=["Message"])
WithContent = Annotated[bool, Query(description="false leaves payloads out (Svix)")]


@router.post("", response_model=MessageOut, status_code=202,
             responses={200: {"model": MessageOut,
                              "description": "the first message for this idempotency-key"}})
async def create_message(
    request: Request,
    app: PublishingAppOrNone,
    body: MessageIn,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    with_content: WithContent = True,
) -> MessageOut:
    """Publish an event: stored and fanned out to every matching endpoint before this returns.
    The same `idempotency-key` within 24 h returns the first message and creates nothing."""
    # Plain requests are answered by `api/short_publish.py` before they reach this route;
    # what comes here is what that path leaves to FastAPI (a query, a body to refuse...).
    message, created = await publish_single(request, request.path_params["app_id"], app, body,
                                            service, idempotency_key)
    if not created:
        response.status_code = 200
    return MessageOut.of(message, with_content)


async def publish_single(request: Request, app_key: str, app: Application | None,
                         body: MessageIn,
                         service: Service, idempotency_key: str | None) -> tuple[Message, bool]:
    """A single publish by a caller `authenticate_publisher` let in for `app`: the message,
    and whether it was created now (not found under its idempotency key)."""
    publish = partial(service.publish, event_type=body.event_type, payload=body.payload,
                      event_id=body.event_id, channels=body.channels,
                      ordering_key=body.ordering_key, idempotency_key=idempotency_key,
                      tags=body.tags,
                      deliver_at=body.deliver_at.timestamp() if body.deliver_at else None,
                      payload_life=payload_life(service.settings, body.payload_retention_period,
                                                body.payload_retention_hours),
                      coalesce=True)  # a request holds no transaction: its write may be shared
    if app is None:  # Svix's inline `application`: created with the message if missing
        if body.application is None:
            raise NotFound(f"application {request.path_params['app_id']!r} not found")
        app = await service.get_or_create_app(request.path_params["app_id"],
                                              body.application.name, body.application.uid,
                                              body.application.metadata,
                                              body.application.rate)
    try:
        result = await publish(app.id)
    except HooklineError as refused:
        # Checked against configuration last seen (see `authenticate_publisher`): if it has
        # changed since (a token revoked, a filter or schema edited), nothing was stored and
        # this answer may be wrong. Decide again, from the database this time.
        if not isinstance(refused, StaleConfiguration) and not await service.configuration_moved():
            raise
        principal = await authenticate(request)
        app = await app_in_scope(app_key, principal, service)
        result = await publish(app.id)
    return result.message, result.created


class BatchMessageIn(MessageIn):
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=256,
        description="this message's idempotency key, shared with the idempotency-key of "
                    "single publishes: a key seen within 24 h returns its first message")


class MessageBatchIn(InputSchema):
    # Items are checked one by one in the route, so that a bad one refuses only itself.
    messages: list[SkipValidation[BatchMessageIn]] = Field(
        min_length=1, max_length=MAX_BATCH,
        description="an item not of this shape is refused alone, in its result")


class BatchItemOut(Schema):
    index: int = Field(description="the item's position in the request, from 0")
    outcome: Literal["created", "existing", "refused"] = Field(
        description="created now; an existing message under its idempotency key; or refused")
    status: int = Field(description="what a single publish would answer: 202, 200 or 4xx")
    message: MessageOut | None = Field(default=None, description="unless refused")
    error: Problem | None = Field(default=None, description="why it was refused")


class MessageBatchOut(Schema):
    data: list[BatchItemOut] = Field(description="one result per item, in request order")


@router.post("/batch", response_model=MessageBatchOut, status_code=200)
async def create_message_batch(
    app: AppDep,
    body: MessageBatchIn,
    service: ServiceDep,
    idempotency: IdempotencyDep,
    with_content: WithContent = True,
) -> Response:
    """Publish up to 100 messages in one transaction with their fan-out, durable before
    this returns. An item that is not valid is refused alone, with its index and a problem."""
    # Plain requests (no query, no idempotency-key) are answered by `api/short_publish.py`
    # before they reach this route, with `publish_batch` below.
    # Answered as encoded JSON: FastAPI would validate the hundred results again against
    # `MessageBatchOut` before encoding them, for nothing (they were built as such).
    answer = await idempotency.once(app.id, 200, MessageBatchOut,
                                    partial(publish_batch, service, app, body, with_content))
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


async def publish_batch(service: Service, app: Application, body: MessageBatchIn,
                        with_content: bool) -> MessageBatchOut:
    """The batch's items published, each checked alone: one result per item, in order."""
    items: list[BatchMessageIn | Problem] = [_checked_item(raw) for raw in body.messages]
    drafts = [MessageDraft(i.event_type, i.payload, event_id=i.event_id,
                           channels=i.channels, idempotency_key=i.idempotency_key,
                           ordering_key=i.ordering_key, tags=i.tags,
                           deliver_at=i.deliver_at.timestamp() if i.deliver_at else None)
              for i in items if isinstance(i, BatchMessageIn)]
    published = iter(await service.publish_batch(app.id, drafts))
    results = [item if isinstance(item, Problem) else next(published) for item in items]
    return MessageBatchOut.model_construct(data=[_item_out(n, r, with_content)
                                                 for n, r in enumerate(results)])


def _checked_item(raw: object) -> BatchMessageIn | Problem:
    try:
        return BatchMessageIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        return problem_body(422, "Validation failed", f"{where}: {first['msg']}", field=where)
    except HooklineError as refused:  # a text field's own check (`Schema._storable_text`)
        return _problem_of(refused)


def _item_out(index: int, result: BatchResult | Problem,
              with_content: bool) -> BatchItemOut:
    if isinstance(result, HooklineError):
        result = _problem_of(result)
    # Built without validation, as `MessageOut.of`: every value is this module's own.
    if isinstance(result, Problem):
        return built(BatchItemOut, index=index, outcome="refused", status=result.status,
                     message=None, error=result)
    return built(BatchItemOut, index=index, outcome="created" if result.created else "existing",
                 status=202 if result.created else 200,
                 message=MessageOut.of(result.message, with_content), error=None)


def _problem_of(refused: HooklineError) -> Problem:
    extra = {"field": refused.field} if refused.field else {}
    return problem_body(refused.status, refused.title, refused.detail, **extra)


@router.get("", response_model=ListResponse[MessageOut])
async def list_messages(
    app: AppDep,
    service: ServiceDep,
    limit: Limit = None,
    iterator: Iterator = None,
    event_types: Annotated[EventFilterList | None, Query(description="repeat or comma-separate")
                           ] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    before: DateTime | None = None,
    after: DateTime | None = None,
    with_content: WithContent = True,
) -> ListResponse[MessageOut]:
    page = await service.list_messages(
        app.id, limit, iterator, event_types=split_csv(event_types), channel=channel, tag=tag,
        before=before.timestamp() if before else None,
        after=after.timestamp() if after else None)
    return ListResponse.of(page, lambda m: MessageOut.of(m, with_content))


@router.post("/precheck/active", response_model=MessagePrecheckOut)
async def precheck_active(app: AppDep, body: MessagePrecheckIn,
                          service: ServiceDep) -> MessagePrecheckOut:
    """Whether a message of this event type (and channels) would go to any endpoint, so a
    caller can skip building one nobody gets."""
    return MessagePrecheckOut(active=await service.precheck_active(app.id, body.event_type,
                                                                  body.channels))


@router.get("/{msg_id}/endpoint", response_model=ListResponse[MessageEndpointOut])
async def list_attempted_destinations(app: AppDep, msg_id: str, service: ServiceDep,
                                      limit: Limit = None, iterator: Iterator = None
                                      ) -> ListResponse[MessageEndpointOut]:
    """The endpoints the message goes to, with where it stands at each."""
    page = await service.list_message_endpoints(app.id, msg_id, limit, iterator)
    return ListResponse.of(page, MessageEndpointOut.of_pair)


@router.get("/{msg_id}", response_model=MessageOut)
async def get_message(app: AppDep, msg_id: str, service: ServiceDep,
                      with_content: WithContent = True) -> MessageOut:
    return MessageOut.of(await service.get_message(app.id, msg_id), with_content)


@router.post("/{msg_id}/endpoint/{endpoint_id}/resend", response_model=EmptyOut,
             status_code=202)
async def resend(app: AppDep, msg_id: str, endpoint_id: str, service: ServiceDep,
                 idempotency: IdempotencyDep) -> EmptyOut:
    """Send the message to the endpoint again now, with a fresh retry budget."""

    async def resend() -> EmptyOut:
        await service.resend(app.id, msg_id, endpoint_id)
        return EmptyOut()

    return await idempotency.once(app.id, 202, EmptyOut, resend)
