"""Links into the partner portal (Svix's app-portal-access), and ending access: logout and
expire-all."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from ...service.sessions import MAX_EXPIRE_DELAY
from ..auth import bearer_token
from ..deps import AppDep, NoStore, ServiceDep
from ..schemas import InputSchema, Schema

router = APIRouter(prefix="/auth", tags=["Authentication"])
DEFAULT_PORTAL_TTL = 3600
# Svix's `sessionId`: the caller's own name for whoever the link is for.
SessionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9@_-]+$")]
MAX_SESSION_IDS = 1000
Capability = Literal["ViewBase", "ViewEndpointSecret", "ManageEndpointSecret",
                     "ManageTransformations", "CreateAttempts", "ManageEndpoint"]
WRITING = {"ManageEndpointSecret", "ManageTransformations", "CreateAttempts", "ManageEndpoint"}
FeatureFlag = Annotated[str, Field(min_length=1, max_length=256,
                                   pattern=r"^[a-zA-Z0-9\-_.]+$")]


class AppPortalAccessIn(InputSchema):
    expiry: int | None = Field(default=None, ge=60, le=7 * 24 * 3600,
                               description="seconds the link stays valid (default 1 h)")
    read_only: bool | None = Field(
        default=None, description="the portal may look but change nothing, and never shows "
                                  "or rotates signing secrets")
    session_id: SessionId | None = Field(
        default=None, description="a name of your choosing for whoever gets the link; "
                                  "expire-all can end only the sessions opened with it")
    capabilities: list[Capability] | None = Field(
        default=None, description="Svix's capabilities: without one that changes things "
                                  "(ManageEndpoint, ManageEndpointSecret, CreateAttempts, "
                                  "ManageTransformations) the session is read-only")
    feature_flags: list[FeatureFlag] | None = Field(
        default=None, max_length=100,
        description="the session sees event types with one of these feature flags (and "
                    "those without any); flagged ones stay hidden otherwise")
    # Sent by Svix SDKs; accepted so that they work, not acted upon.
    application: dict[str, Any] | None = Field(default=None, description="Svix: ignored")

    @property
    def read_only_session(self) -> bool:
        if self.read_only:
            return True
        return self.capabilities is not None and not set(self.capabilities) & WRITING


class AppPortalAccessOut(Schema):
    url: str
    token: str = Field(description="the link's token: it opens one portal session, once")


class ApplicationTokenExpireIn(InputSchema):
    expiry: int | None = Field(
        default=None, ge=0, le=MAX_EXPIRE_DELAY,
        description="seconds until the links and sessions stop working (default: now)")
    session_ids: list[SessionId] | None = Field(
        default=None, max_length=MAX_SESSION_IDS,
        description="only the links and sessions created with one of these `sessionId`s")


@router.post("/app-portal-access/{app_id}", response_model=AppPortalAccessOut,
             dependencies=[NoStore])
async def app_portal_access(app: AppDep, service: ServiceDep,
                            body: AppPortalAccessIn | None = None) -> AppPortalAccessOut:
    """A short-lived signed link that opens the partner portal on this application. It opens
    one session: a second use of the link is refused."""
    body = body or AppPortalAccessIn()
    url, token = await service.create_portal_access(
        app.id, body.expiry or DEFAULT_PORTAL_TTL, read_only=body.read_only_session,
        session_tag=body.session_id, feature_flags=body.feature_flags)
    return AppPortalAccessOut(url=url, token=token)


@router.post("/app/{app_id}/expire-all", status_code=204)
async def expire_all(app: AppDep, service: ServiceDep,
                     body: ApplicationTokenExpireIn | None = None) -> Response:
    """End every portal link and portal session of this application (or, with `sessionIds`,
    those created with one of them), now or in `expiry` seconds. API tokens are revoked one
    by one (`DELETE /api/v1/app/{app_id}/token/{token_id}`)."""
    body = body or ApplicationTokenExpireIn()
    await service.expire_portal_access(app.id, body.expiry or 0, body.session_ids)
    return Response(status_code=204)


@router.post("/logout", status_code=204)
async def logout(request: Request, service: ServiceDep) -> Response:
    """End the calling token: an application token is revoked (a read-only one too); a portal
    link token is used up, with the session it opened. The admin token cannot log out."""
    await service.log_out(bearer_token(request))
    return Response(status_code=204)
