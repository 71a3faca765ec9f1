from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ... import ids
from ...errors import NotFound
from ...models import DeliveryOptions
from ..deps import AppDep, Iterator, Limit, NoStore, Order, PrincipalDep, ServiceDep, split_csv
from ..idempotency import IdempotencyDep
from ..schemas import (
    STATUS_TEXT,
    DateTime,
    DeliveryOptionsFields,
    EndpointFields,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointSecretOut,
    EndpointUpdate,
    EventFilterList,
    ListResponse,
    RecoverIn,
    RecoverOut,
)
from ..svix_schemas import EndpointMessageOut

router = APIRouter(prefix="/app/{app_id}/endpoint", tags=["Endpoint"])
_OPTION_FIELDS = tuple(DeliveryOptionsFields.model_fields)


def merged_options(base: DeliveryOptions, body: DeliveryOptionsFields,
                   only_set: bool = True) -> DeliveryOptions:
    """Apply the option fields the caller sent; unset fields keep their current value."""
    sent = body.model_dump(exclude_unset=only_set)
    changes: dict[str, Any] = {k: sent[k] for k in _OPTION_FIELDS if k in sent}
    if "disable_after_seconds" in changes and changes["disable_after_seconds"] is None:
        pass  # explicit null turns the duration rule off
    return replace(base, **{k: v for k, v in changes.items()
                            if v is not None or k in ("retry_schedule", "signature_header",
                                                      "json_style", "disable_after_failures",
                                                      "disable_after_seconds",
                                                      "max_concurrency", "auto_recover",
                                                      "probe_schedule")})


def with_rate(options: DeliveryOptions, body: EndpointFields | EndpointPatch) -> DeliveryOptions:
    """Svix's rateLimit, or its SDK v2 name throttleRate: a full body sets it (null clears),
    a patch only if it names either."""
    sent = body.model_fields_set
    if isinstance(body, EndpointPatch) and not sent & {"rate_limit", "throttle_rate"}:
        return options
    rate = body.rate_limit if "rate_limit" in sent else body.throttle_rate
    return replace(options, rate_limit=rate)


@router.get("", response_model=ListResponse[EndpointOut])
async def list_endpoints(app: AppDep, service: ServiceDep, limit: Limit = None,
                         iterator: Iterator = None,
                         order: Order = None) -> ListResponse[EndpointOut]:
    page = await service.list_endpoints(app.id, limit, iterator, order)
    return ListResponse.of(page, lambda ep: EndpointOut.of(ep, app=app))


async def _create(service: ServiceDep, app_id: str, body: EndpointFields,
                  secret: str | None = None, headers: dict[str, str] | None = None,
                  preset: str | None = None) -> EndpointOut:
    options = with_rate(merged_options(service.new_endpoint_options(preset), body), body)
    return EndpointOut.of(await service.create_endpoint(
        app_id, url=body.url, secret=secret, options=options, uid=body.uid,
        description=body.description, filter_types=body.wanted_types(), channels=body.channels,
        disabled=body.disabled, headers=headers or {}, metadata=body.metadata))


@router.post("", response_model=EndpointOut, status_code=201)
async def create_endpoint(app: AppDep, body: EndpointIn, service: ServiceDep,
                          idempotency: IdempotencyDep) -> EndpointOut:

    async def create() -> EndpointOut:
        return await _create(service, app.id, body, body.secret, body.headers, body.preset)

    return await idempotency.once(app.id, 201, EndpointOut, create)


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(app: AppDep, endpoint_id: str, service: ServiceDep) -> EndpointOut:
    endpoint = await service.get_endpoint(app.id, endpoint_id)
    return EndpointOut.of(endpoint, await service.waiting_count(endpoint), app)


@router.put("/{endpoint_id}", response_model=EndpointOut,
            responses={201: {"model": EndpointOut,
                             "description": "created: no endpoint had this id or uid"}})
async def update_endpoint(app: AppDep, endpoint_id: str, body: EndpointUpdate,
                          service: ServiceDep, response: Response) -> EndpointOut:
    """Replace the endpoint; if none has this id or uid, create it with `endpoint_id` as its
    uid (Svix's upsert), 201."""
    try:
        current = await service.get_endpoint(app.id, endpoint_id)
    except NotFound:
        if ids.has_prefix(endpoint_id, ids.ENDPOINT):
            raise
        response.status_code = 201
        return await _create(service, app.id, body.model_copy(
            update={"uid": body.uid or endpoint_id}))
    ep = await service.update_endpoint(
        app.id, endpoint_id, url=body.url, description=body.description,
        filter_types=body.wanted_types(), channels=body.channels, disabled=body.disabled,
        uid=body.uid, metadata=body.metadata,
        options=with_rate(merged_options(current.options, body), body))
    return EndpointOut.of(ep, app=app)


@router.patch("/{endpoint_id}", response_model=EndpointOut)
async def patch_endpoint(app: AppDep, endpoint_id: str, body: EndpointPatch,
                         service: ServiceDep) -> EndpointOut:
    current = await service.get_endpoint(app.id, endpoint_id)
    sent = body.model_dump(exclude_unset=True)
    if "event_types" in sent:
        sent.setdefault("filter_types", sent["event_types"])
    changes = {k: sent[k] for k in ("url", "description", "filter_types", "channels",
                                    "disabled", "uid", "metadata") if k in sent}
    for key in ("url", "description", "disabled", "metadata"):
        if key in changes and changes[key] is None:
            del changes[key]
    ep = await service.update_endpoint(
        app.id, endpoint_id, **changes,
        options=with_rate(merged_options(current.options, body), body))
    return EndpointOut.of(ep, app=app)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(app: AppDep, endpoint_id: str,
                          service: ServiceDep) -> Response:
    await service.delete_endpoint(app.id, endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/msg", response_model=ListResponse[EndpointMessageOut])
async def list_attempted_messages(
    app: AppDep, endpoint_id: str, service: ServiceDep, limit: Limit = None,
    iterator: Iterator = None,
    status: Annotated[int | None, Query(ge=0, le=3, description="0 success, 1 pending, "
                                                                "2 failed, 3 sending")] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    event_types: Annotated[EventFilterList | None,
                           Query(description="repeat or comma-separate")] = None,
    before: DateTime | None = None, after: DateTime | None = None,
    with_content: Annotated[bool, Query(description="false leaves payloads out")] = True,
) -> ListResponse[EndpointMessageOut]:
    """The messages sent (or due) to this endpoint, newest first, with their latest state."""
    page = await service.list_endpoint_messages(
        app.id, endpoint_id, limit, iterator,
        status=None if status is None else STATUS_TEXT[status], channel=channel, tag=tag,
        event_types=split_csv(event_types), before=before.timestamp() if before else None,
        after=after.timestamp() if after else None)
    return ListResponse.of(page, lambda pair: EndpointMessageOut.of_pair(pair, with_content))


@router.get("/{endpoint_id}/secret", response_model=EndpointSecretOut, dependencies=[NoStore])
async def get_endpoint_secret(app: AppDep, endpoint_id: str, principal: PrincipalDep,
                              service: ServiceDep) -> EndpointSecretOut:
    principal.require_secret_access()
    return EndpointSecretOut(key=(await service.get_endpoint(app.id, endpoint_id)).secret)


@router.post("/{endpoint_id}/recover", response_model=RecoverOut, status_code=202)
async def recover_failed(app: AppDep, endpoint_id: str, body: RecoverIn,
                         service: ServiceDep,
                         idempotency: IdempotencyDep) -> RecoverOut:

    async def recover() -> RecoverOut:
        count = await service.recover(app.id, endpoint_id, body.since.timestamp(),
                                      body.until.timestamp() if body.until else None)
        return RecoverOut(id=ids.new_id("qtask"), updated_at=datetime.now(UTC),
                          recovered=count)

    return await idempotency.once(app.id, 202, RecoverOut, recover)
