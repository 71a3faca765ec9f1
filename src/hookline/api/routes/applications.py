from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import AppDep, Iterator, Limit, PrincipalDep, ServiceDep
from ..idempotency import ACCOUNT, IdempotencyDep
from ..schemas import ApplicationIn, ApplicationOut, ApplicationPatch, ListResponse

router = APIRouter(prefix="/app", tags=["Application"])


@router.get("", response_model=ListResponse[ApplicationOut])
async def list_applications(principal: PrincipalDep, service: ServiceDep, limit: Limit = None,
                            iterator: Iterator = None) -> ListResponse[ApplicationOut]:
    if principal.app_id is not None:
        app = await service.get_app(principal.app_id)
        return ListResponse(data=[ApplicationOut.of(app)], iterator=None, done=True)
    page = await service.list_apps(limit, iterator)
    return ListResponse.of(page, ApplicationOut.of)


@router.post("", response_model=ApplicationOut, status_code=201,
             responses={200: {"model": ApplicationOut,
                              "description": "the existing application (get_if_exists)"}})
async def create_application(body: ApplicationIn, principal: PrincipalDep, service: ServiceDep,
                             response: Response, idempotency: IdempotencyDep,
                             get_if_exists: bool = False) -> ApplicationOut:
    principal.require_admin()
    if get_if_exists and body.uid:
        from ...errors import NotFound

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


@router.put("/{app_id}", response_model=ApplicationOut)
async def update_application(app: AppDep, body: ApplicationIn,
                             service: ServiceDep) -> ApplicationOut:
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
