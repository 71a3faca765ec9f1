from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from ... import ids
from ...errors import NotFound
from ...models import Application
from ..deps import AppDep, Iterator, Limit, Order, PrincipalDep, ServiceDep, app_in_scope
from ..idempotency import ACCOUNT, IdempotencyDep
from ..schemas import ApplicationIn, ApplicationOut, ApplicationPatch, ListResponse

router = APIRouter(prefix="/app", tags=["Application"])


@router.get("", response_model=ListResponse[ApplicationOut])
async def list_applications(principal: PrincipalDep, service: ServiceDep, limit: Limit = None,
                            iterator: Iterator = None,
                            order: Order = None) -> ListResponse[ApplicationOut]:
    if principal.app_id is not None:
        app = await service.get_app(principal.app_id)
        return ListResponse(data=[ApplicationOut.of(app)], iterator=None, done=True)
    page = await service.list_apps(limit, iterator, order)
    return ListResponse.of(page, ApplicationOut.of)


@router.post("", response_model=ApplicationOut, status_code=201,
             responses={200: {"model": ApplicationOut,
                              "description": "the existing application (get_if_exists)"}})
async def create_application(body: ApplicationIn, principal: PrincipalDep, service: ServiceDep,
                             response: Response, idempotency: IdempotencyDep,
                             get_if_exists: bool = False) -> ApplicationOut:
    principal.require_admin()
    if get_if_exists and body.uid:
        try:
            existing = await service.get_app(body.uid)
            response.status_code = 200
            return ApplicationOut.of(existing)
        except NotFound:
            pass

    async def create() -> ApplicationOut:
        return ApplicationOut.of(
            await service.create_app(body.name, body.uid, body.metadata, body.rate,
                                     auto_recover=body.auto_recover is not False))

    return await idempotency.once(ACCOUNT, 201, ApplicationOut, create)


@router.get("/{app_id}", response_model=ApplicationOut)
async def get_application(app: AppDep) -> ApplicationOut:
    return ApplicationOut.of(app)


async def app_if_any(app_id: str, principal: PrincipalDep,
                     service: ServiceDep) -> Application | None:
    """`AppDep`, or None where an upsert may create the application: the admin naming a uid
    that no application has."""
    try:
        return await app_in_scope(app_id, principal, service)
    except NotFound:
        if not principal.is_admin or ids.has_prefix(app_id, ids.APPLICATION):
            raise
        return None


@router.put("/{app_id}", response_model=ApplicationOut,
            responses={201: {"model": ApplicationOut,
                             "description": "created: no application had this id or uid"}})
async def update_application(app_id: str, app: Annotated[Application | None, Depends(app_if_any)],
                             body: ApplicationIn, service: ServiceDep,
                             response: Response) -> ApplicationOut:
    """Replace the application; if none has this uid, create it with `app_id` as its uid
    (Svix's upsert), 201."""
    if app is None:
        response.status_code = 201
        created = await service.create_app(body.name, body.uid or app_id, body.metadata,
                                           body.rate)
        return ApplicationOut.of(created)
    updated = await service.update_app(app.id, name=body.name, uid=body.uid,
                                       metadata=body.metadata, rate_limit=body.rate,
                                       auto_recover=body.auto_recover is not False)
    return ApplicationOut.of(updated)


@router.patch("/{app_id}", response_model=ApplicationOut)
async def patch_application(app: AppDep, body: ApplicationPatch,
                            service: ServiceDep) -> ApplicationOut:
    updated = await service.update_app(app.id, **body.changes())
    return ApplicationOut.of(updated)


@router.delete("/{app_id}", status_code=204)
async def delete_application(app: AppDep, principal: PrincipalDep,
                             service: ServiceDep) -> Response:
    principal.require_admin()
    await service.delete_app(app.id)
    return Response(status_code=204)
