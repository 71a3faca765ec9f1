from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ..deps import AdminDep, Iterator, Limit, Order, PrincipalDep, ServiceDep
from ..idempotency import ACCOUNT, IdempotencyDep
from ..schemas import (
    CatalogueEntryIn,
    CatalogueImportIn,
    CatalogueImportOut,
    CatalogueOut,
    EventTypeIn,
    EventTypeOut,
    EventTypeReplace,
    EventTypeUpdate,
    ListResponse,
)
from ..svix_schemas import (
    EventTypeFromOpenApi,
    EventTypeImportOpenApiIn,
    EventTypeImportOpenApiOut,
    EventTypeImportOpenApiOutData,
)

router = APIRouter(prefix="/event-type", tags=["Event Type"])


WithContent = Annotated[bool, Query(description="false leaves schemas and examples out "
                                               "(Svix's default is false; Hookline's true)")]


@router.get("", response_model=ListResponse[EventTypeOut])
async def list_event_types(principal: PrincipalDep, service: ServiceDep, limit: Limit = None,
                           iterator: Iterator = None, include_archived: bool = False,
                           order: Order = None, with_content: WithContent = True,
                           ) -> ListResponse[EventTypeOut]:
    page = await service.list_event_types(limit, iterator, include_archived, order)
    return ListResponse.of(page, lambda et: EventTypeOut.of(et, with_content))


@router.post("", response_model=EventTypeOut, status_code=201)
async def create_event_type(body: EventTypeIn, admin: AdminDep, service: ServiceDep,
                            idempotency: IdempotencyDep) -> EventTypeOut:
    """Create an event type, or bring back an archived one."""

    async def create() -> EventTypeOut:
        return EventTypeOut.of(await service.create_event_type(body.to_model()))

    return await idempotency.once(ACCOUNT, 201, EventTypeOut, create)


@router.post("/import", response_model=CatalogueImportOut)
async def import_catalogue(body: CatalogueImportIn | list[CatalogueEntryIn], admin: AdminDep,
                           service: ServiceDep) -> CatalogueImportOut:
    """Create or replace many event types at once, all or nothing. The body is
    `{"eventTypes": [...]}` (what export returns) or a bare list."""
    types = body.event_types if isinstance(body, CatalogueImportIn) else body
    created, updated = await service.import_event_types([t.to_model() for t in types])
    return CatalogueImportOut(created=created, updated=updated, total=created + updated)


@router.post("/import/openapi", response_model=EventTypeImportOpenApiOut)
async def import_openapi(body: EventTypeImportOpenApiIn, admin: AdminDep,
                         service: ServiceDep) -> EventTypeImportOpenApiOut:
    """Event types from an OpenAPI document's webhooks (`spec`, or `specRaw` as YAML or
    JSON): created or replaced at once; `replaceAll` archives the others; `dryRun` writes
    nothing and lists what would change in `to_modify`."""
    done = await service.import_openapi(body.spec, body.spec_raw, dry_run=body.dry_run,
                                        replace_all=body.replace_all)
    to_modify = [EventTypeFromOpenApi.of(et) for et in done.event_types] if body.dry_run \
        else None
    return EventTypeImportOpenApiOut(data=EventTypeImportOpenApiOutData(
        modified=done.modified, to_modify=to_modify))


@router.get("/export", response_model=CatalogueOut)
async def export_catalogue(principal: PrincipalDep, service: ServiceDep) -> CatalogueOut:
    """The whole catalogue, archived types included, in the shape import takes."""
    types = await service.export_event_types()
    return CatalogueOut(event_types=[EventTypeOut.of(t) for t in types])


@router.get("/{event_type_name}", response_model=EventTypeOut)
async def get_event_type(event_type_name: str, principal: PrincipalDep,
                         service: ServiceDep) -> EventTypeOut:
    return EventTypeOut.of(await service.get_event_type(event_type_name))


@router.put("/{event_type_name}", response_model=EventTypeOut)
async def update_event_type(event_type_name: str, body: EventTypeReplace, admin: AdminDep,
                            service: ServiceDep) -> EventTypeOut:
    return EventTypeOut.of(await service.upsert_event_type(body.to_model(event_type_name)))


@router.patch("/{event_type_name}", response_model=EventTypeOut)
async def patch_event_type(event_type_name: str, body: EventTypeUpdate, admin: AdminDep,
                           service: ServiceDep) -> EventTypeOut:
    current = await service.get_event_type(event_type_name)
    changes = body.model_dump(exclude_unset=True)
    fresh = body.to_model(event_type_name)
    merged = replace(current, **{k: getattr(fresh, k) for k in (
        "description", "archived", "deprecated", "group_name", "example", "feature_flags")
        if k in changes or (k == "feature_flags" and "feature_flag" in changes)})
    if "json_schema" in changes or "schemas" in changes:
        merged = replace(merged, schema=fresh.schema)
    return EventTypeOut.of(await service.upsert_event_type(merged))


@router.delete("/{event_type_name}", status_code=204)
async def delete_event_type(event_type_name: str, admin: AdminDep, service: ServiceDep,
                            expunge: bool = False) -> Response:
    """Archive the event type (Svix's meaning of delete): it leaves listings but still
    delivers. `expunge=true` removes it for good."""
    if expunge:
        await service.delete_event_type(event_type_name)
    else:
        await service.archive_event_type(event_type_name)
    return Response(status_code=204)
