"""Shared route dependencies: the service, the caller, the application in scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response

from ..errors import Forbidden, NotFound
from ..models import Application
from ..service import MAX_LIMIT, Service
from .auth import Principal, authenticate, authenticate_publisher


async def get_service(request: Request) -> Service:
    # async: FastAPI runs a plain `def` dependency on its thread pool, a hand-off per request.
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="page size (default 50)")]
Iterator = Annotated[str | None, Query(max_length=256, description="cursor from a last page")]
Order = Annotated[Literal["ascending", "descending"] | None,
                  Query(description="the sorting order of the returned items (Svix)")]


async def app_in_scope(app_id: str, principal: PrincipalDep, service: ServiceDep) -> Application:
    """The application named in the path, if the caller may see it (404 otherwise)."""
    app = await service.get_app(app_id)
    principal.check_app(app.id)
    return app


AppDep = Annotated[Application, Depends(app_in_scope)]


async def publishing_app(app_id: str,
                         principal: Annotated[Principal, Depends(authenticate_publisher)],
                         service: ServiceDep) -> Application:
    """`app_in_scope` for a single publish (see `authenticate_publisher`)."""
    return await app_in_scope(app_id, principal, service)


PublishingAppDep = Annotated[Application, Depends(publishing_app)]


async def publishing_app_or_none(
        app_id: str, principal: Annotated[Principal, Depends(authenticate_publisher)],
        service: ServiceDep) -> Application | None:
    """`publishing_app`, or None where the admin names an application that does not exist
    (a message may create it: Svix's inline `application`)."""
    try:
        return await app_in_scope(app_id, principal, service)
    except NotFound:
        if not principal.is_admin:
            raise
        return None


PublishingAppOrNone = Annotated[Application | None, Depends(publishing_app_or_none)]


async def admin_only(principal: PrincipalDep) -> Principal:
    principal.require_admin()
    return principal


async def token_app(principal: PrincipalDep, service: ServiceDep) -> Application:
    """The application an app-scoped token acts for, on routes with no application in the
    path (the Smile-shaped API)."""
    if principal.app_id is None:
        raise Forbidden("use an application-scoped token: this route acts for one application")
    return await service.get_app(principal.app_id)


AdminDep = Annotated[Principal, Depends(admin_only)]
TokenAppDep = Annotated[Application, Depends(token_app)]


def split_csv(values: list[str] | None) -> list[str] | None:
    """Svix SDKs send list filters as one comma-separated value (`event_types=a,b`)."""
    if not values:
        return None
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return parts or None


def no_store(response: Response) -> None:
    """For answers that carry a secret or a token: no browser or proxy cache may keep them."""
    response.headers["cache-control"] = "no-store"


NoStore = Depends(no_store)
