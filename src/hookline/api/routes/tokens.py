"""Application-scoped API tokens: the admin hands one to a partner; it sees only that app."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field

from ...tokens import MAX_TOKEN_NAME, ApiToken
from ..deps import AdminDep, AppDep, NoStore, ServiceDep
from ..idempotency import IdempotencyDep
from ..schemas import InputSchema, ListResponse, Schema, ts

router = APIRouter(prefix="/app/{app_id}/token", tags=["Application Token"])


class TokenIn(InputSchema):
    name: str = Field(default="", max_length=MAX_TOKEN_NAME)
    read_only: bool = False


class TokenOut(Schema):
    id: str
    name: str
    read_only: bool
    created_at: datetime

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(id=token.id, name=token.name, read_only=token.read_only,
                   created_at=ts(token.created_at))


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the bearer token; shown only in this response")


@router.post("", response_model=TokenCreatedOut, status_code=201, dependencies=[NoStore])
async def create_token(app: AppDep, admin: AdminDep, service: ServiceDep,
                       idempotency: IdempotencyDep,
                       body: TokenIn | None = None) -> TokenCreatedOut:
    """A new token for this application. Only its SHA-256 hash is kept: store it now."""
    wanted = body or TokenIn()

    async def create() -> TokenCreatedOut:
        token, plain = await service.create_app_token(app.id, wanted.name, wanted.read_only)
        return TokenCreatedOut(**TokenOut.of(token).model_dump(), token=plain)

    return await idempotency.once(app.id, 201, TokenCreatedOut, create)


@router.get("", response_model=ListResponse[TokenOut])
async def list_tokens(app: AppDep, admin: AdminDep,
                      service: ServiceDep) -> ListResponse[TokenOut]:
    tokens = await service.list_app_tokens(app.id)
    return ListResponse(data=[TokenOut.of(t) for t in tokens], iterator=None, done=True)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(app: AppDep, token_id: str, admin: AdminDep,
                       service: ServiceDep) -> Response:
    """Revoke the token: it stops working at once."""
    await service.revoke_app_token(app.id, token_id)
    return Response(status_code=204)
