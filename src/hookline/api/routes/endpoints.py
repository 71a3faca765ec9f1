from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response

from ... import ids
from ...models import DeliveryOptions
from ..deps import AppDep, Iterator, Limit, NoStore, PrincipalDep, ServiceDep
from ..idempotency import IdempotencyDep
from ..schemas import (
    DeliveryOptionsFields,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointSecretOut,
    EndpointUpdate,
    ListResponse,
    RecoverIn,
    RecoverOut,
)

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


@router.get("", response_model=ListResponse[EndpointOut])
async def list_endpoints(app: AppDep, service: ServiceDep, limit: Limit = None,
                         iterator: Iterator = None) -> ListResponse[EndpointOut]:
    page = await service.list_endpoints(app.id, limit, iterator)
    return ListResponse.of(page, EndpointOut.of)


@router.post("", response_model=EndpointOut, status_code=201)
async def create_endpoint(app: AppDep, body: EndpointIn, service: ServiceDep,
                          idempotency: IdempotencyDep) -> EndpointOut:

    async def create() -> EndpointOut:
        return EndpointOut.of(await service.create_endpoint(
            app.id, url=body.url, secret=body.secret,
            options=merged_options(DeliveryOptions(), body),
            uid=body.uid, description=body.description, filter_types=body.wanted_types(),
            channels=body.channels, disabled=body.disabled, headers=body.headers or {},
            metadata=body.metadata))

    return await idempotency.once(app.id, 201, EndpointOut, create)


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(app: AppDep, endpoint_id: str, service: ServiceDep) -> EndpointOut:
    endpoint = await service.get_endpoint(app.id, endpoint_id)
    return EndpointOut.of(endpoint, await service.waiting_count(endpoint))


@router.put("/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(app: AppDep, endpoint_id: str, body: EndpointUpdate,
                          service: ServiceDep) -> EndpointOut:
    current = await service.get_endpoint(app.id, endpoint_id)
    ep = await service.update_endpoint(
        app.id, endpoint_id, url=body.url, description=body.description,
        filter_types=body.wanted_types(), channels=body.channels, disabled=body.disabled,
        uid=body.uid, metadata=body.metadata, options=merged_options(current.options, body))
    return EndpointOut.of(ep)


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
    ep = await service.update_endpoint(app.id, endpoint_id, **changes,
                                       options=merged_options(current.options, body))
    return EndpointOut.of(ep)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(app: AppDep, endpoint_id: str,
                          service: ServiceDep) -> Response:
    await service.delete_endpoint(app.id, endpoint_id)
    return Response(status_code=204)


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
