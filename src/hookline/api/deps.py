"""Shared route dependencies: the service, the caller, the application in scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from ..models import Application
from ..service import Service
from .auth import Principal, authenticate


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]
Limit = Annotated[int | None, Query(ge=1, le=250, description="page size (default 50)")]
Iterator = Annotated[str | None, Query(max_length=256, description="cursor from a last page")]


async def app_in_scope(app_id: str, principal: PrincipalDep, service: ServiceDep) -> Application:
    """The application named in the path, if the caller may see it (404 otherwise)."""
    app = await service.get_app(app_id)
    principal.check_app(app.id)
    return app


AppDep = Annotated[Application, Depends(app_in_scope)]
