from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Response

from ..deps import Iterator, Limit, PrincipalDep, ServiceDep
from ..schemas import EventTypeIn, EventTypeOut, EventTypeUpdate, ListResponse

router = APIRouter(prefix="/event-type", tags=["Event Type"])


@router.get("", response_model=ListResponse[EventTypeOut])
async def list_event_types(principal: PrincipalDep, service: ServiceDep, limit: Limit = None,
                           iterator: Iterator = None, include_archived: bool = False
                           ) -> ListResponse[EventTypeOut]:
    page = await service.list_event_types(limit, iterator, include_archived)
    return ListResponse(data=[EventTypeOut.of(e) for e in page.data], iterator=page.iterator,
                        done=page.done)


@router.post("", response_model=EventTypeOut, status_code=201)
async def create_event_type(body: EventTypeIn, principal: PrincipalDep,
                            service: ServiceDep) -> EventTypeOut:
    principal.require_admin()
    return EventTypeOut.of(await service.create_event_type(body.to_model()))


@router.get("/{event_type_name}", response_model=EventTypeOut)
async def get_event_type(event_type_name: str, principal: PrincipalDep,
                         service: ServiceDep) -> EventTypeOut:
    return EventTypeOut.of(await service.get_event_type(event_type_name))


@router.put("/{event_type_name}", response_model=EventTypeOut)
async def update_event_type(event_type_name: str, body: EventTypeUpdate, principal: PrincipalDep,
                            service: ServiceDep) -> EventTypeOut:
    principal.require_admin()
    model = EventTypeIn(name=event_type_name, **body.model_dump(by_alias=True)).to_model()
    return EventTypeOut.of(await service.upsert_event_type(model))


@router.patch("/{event_type_name}", response_model=EventTypeOut)
async def patch_event_type(event_type_name: str, body: EventTypeUpdate, principal: PrincipalDep,
                           service: ServiceDep) -> EventTypeOut:
    principal.require_admin()
    current = await service.get_event_type(event_type_name)
    changes = body.model_dump(exclude_unset=True)
    fresh = EventTypeIn(name=event_type_name, **body.model_dump(by_alias=True)).to_model()
    merged = replace(current, **{k: getattr(fresh, k) for k in (
        "description", "archived", "deprecated", "group_name", "example") if k in changes})
    if "json_schema" in changes or "schemas" in changes:
        merged = replace(merged, schema=fresh.schema)
    return EventTypeOut.of(await service.upsert_event_type(merged))


@router.delete("/{event_type_name}", status_code=204)
async def delete_event_type(event_type_name: str, principal: PrincipalDep,
                            service: ServiceDep) -> Response:
    principal.require_admin()
    await service.delete_event_type(event_type_name)
    return Response(status_code=204)
