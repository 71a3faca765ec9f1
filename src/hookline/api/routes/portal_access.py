"""Links into the partner portal (Svix's app-portal-access)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from ..deps import AppDep, ServiceDep
from ..schemas import InputSchema, Schema

router = APIRouter(prefix="/auth", tags=["Authentication"])
DEFAULT_PORTAL_TTL = 3600


class AppPortalAccessIn(InputSchema):
    expiry: int | None = Field(default=None, ge=60, le=7 * 24 * 3600,
                               description="seconds the link stays valid (default 1 h)")
    read_only: bool | None = Field(default=None, description="accepted for Svix; unused")
    # Sent by Svix SDKs; accepted so that they work, not acted upon.
    application: dict[str, Any] | None = Field(default=None, description="Svix: ignored")
    capabilities: list[str] | None = Field(default=None, description="Svix: ignored")
    feature_flags: list[str] | None = Field(default=None, description="Svix: ignored")
    session_id: str | None = Field(default=None, max_length=256, description="Svix: ignored")


class AppPortalAccessOut(Schema):
    url: str
    token: str


@router.post("/app-portal-access/{app_id}", response_model=AppPortalAccessOut)
async def app_portal_access(app: AppDep, service: ServiceDep,
                            body: AppPortalAccessIn | None = None) -> AppPortalAccessOut:
    """A short-lived signed link that opens the partner portal on this application."""
    ttl = (body.expiry if body else None) or DEFAULT_PORTAL_TTL
    url, token = await service.create_portal_access(app.id, ttl)
    return AppPortalAccessOut(url=url, token=token)
