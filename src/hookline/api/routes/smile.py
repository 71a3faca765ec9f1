"""Smile-shaped webhook registration (`POST /v1/webhooks`), for partners who integrate against
Smile's API. Each webhook is an ordinary endpoint of the token's application, configured as
Smile delivers: `{id, version, type, createdAt, data}` bodies, an HMAC-SHA512 hex signature of
the raw body in `Smile-Signature`, and two retries about 30 s apart: the `smile` preset, or
another one named in `preset`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from ...errors import InvalidInput
from ...models import Endpoint
from ...presets import PRESET_NAMES, SMILE, preset_options
from ...service import ALL_EVENTS, MAX_LIMIT
from ..deps import ServiceDep, TokenAppDep
from ..schemas import MAX_URL, URL_PATTERN, InputSchema, Schema, ts

router = APIRouter(prefix="/v1/webhooks", tags=["Smile webhooks"])


class SmileWebhookIn(InputSchema):
    name: str = Field(default="", max_length=4096)
    url: str = Field(min_length=1, max_length=MAX_URL, pattern=URL_PATTERN)
    event_types: list[str] | str = Field(
        description="event types, as a list or comma-separated, or ALL_EVENTS for every type")
    active: bool = True
    secret: str | None = Field(
        default=None, max_length=256,
        description="the HMAC-SHA512 key (its UTF-8 bytes); generated when omitted")
    preset: str = Field(default=SMILE, description="the delivery contract: "
                        + " | ".join(PRESET_NAMES), json_schema_extra={"enum": [*PRESET_NAMES]})

    def filter_types(self) -> list[str]:
        raw = self.event_types.split(",") if isinstance(self.event_types, str) \
            else self.event_types
        names = [name.strip() for name in raw if name.strip()]
        if not names:
            raise InvalidInput("eventTypes must name an event type, or ALL_EVENTS",
                               field="eventTypes")
        return [ALL_EVENTS] if ALL_EVENTS in names else names


class SmileWebhookOut(Schema):
    id: str
    name: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ep: Endpoint) -> SmileWebhookOut:
        return cls(id=ep.id, name=ep.description, url=ep.url,
                   event_types=ep.filter_types or [ALL_EVENTS], active=not ep.disabled,
                   created_at=ts(ep.created_at), updated_at=ts(ep.updated_at))


async def webhook_in_scope(webhook_id: str, app: TokenAppDep, service: ServiceDep) -> Endpoint:
    """One of the token's application's webhooks (404 for anyone else's)."""
    return await service.get_endpoint(app.id, webhook_id)


WebhookDep = Annotated[Endpoint, Depends(webhook_in_scope)]


@router.post("", response_model=SmileWebhookOut, status_code=201)
async def register_webhook(body: SmileWebhookIn, app: TokenAppDep,
                           service: ServiceDep) -> SmileWebhookOut:
    ep = await service.create_endpoint(
        app.id, url=body.url, secret=body.secret, options=preset_options(body.preset),
        description=body.name, filter_types=body.filter_types(), disabled=not body.active)
    return SmileWebhookOut.of(ep)


@router.get("", response_model=list[SmileWebhookOut])
async def list_webhooks(app: TokenAppDep, service: ServiceDep) -> list[SmileWebhookOut]:
    webhooks: list[SmileWebhookOut] = []
    iterator = None
    while True:
        page = await service.list_endpoints(app.id, MAX_LIMIT, iterator)
        webhooks += [SmileWebhookOut.of(ep) for ep in page.data]
        if page.done:
            return webhooks
        iterator = page.iterator


@router.get("/{webhook_id}", response_model=SmileWebhookOut)
async def get_webhook(webhook: WebhookDep) -> SmileWebhookOut:
    return SmileWebhookOut.of(webhook)


@router.put("/{webhook_id}", response_model=SmileWebhookOut)
async def update_webhook(webhook: WebhookDep, body: SmileWebhookIn,
                         service: ServiceDep) -> SmileWebhookOut:
    """Replace name, url, event types and active; a secret or a preset, when given, replaces
    the old."""
    changes: dict[str, Any] = {"secret": body.secret} if body.secret else {}
    if "preset" in body.model_fields_set:
        changes["options"] = preset_options(body.preset)
    ep = await service.update_endpoint(
        webhook.app_id, webhook.id, url=body.url, description=body.name,
        filter_types=body.filter_types(), disabled=not body.active, **changes)
    return SmileWebhookOut.of(ep)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook: WebhookDep, service: ServiceDep) -> Response:
    await service.delete_endpoint(webhook.app_id, webhook.id)
    return Response(status_code=204)
