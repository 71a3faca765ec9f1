"""Endpoint operations beyond configuration: secret rotation, custom headers, statistics,
test sends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from ...redaction import is_credential_name
from ...service import DEFAULT_ROTATION_GRACE
from ...stats import MAX_HOURS, EndpointHealth, WindowCounts
from ..deps import AppDep, NoStore, PrincipalDep, ServiceDep
from ..idempotency import IdempotencyDep
from ..schemas import (
    EVENT_FILTER_PATTERN,
    CustomHeaders,
    DateTime,
    EndpointSecretOut,
    InputSchema,
    MessageAttemptOut,
    MessageOut,
    Schema,
    ts,
)

router = APIRouter(prefix="/app/{app_id}/endpoint/{endpoint_id}", tags=["Endpoint"])


class SecretRotateIn(InputSchema):
    key: str | None = Field(default=None, max_length=1024,
                            description="the new secret; generated when omitted")
    grace_period_seconds: int | None = Field(
        default=None, ge=0, le=7 * 24 * 3600,
        description="how long the old secret keeps signing beside the new one (default 24 h)")


class HeadersIn(InputSchema):
    headers: CustomHeaders


class HeadersPatchIn(InputSchema):
    headers: CustomHeaders = Field(default_factory=dict)
    delete_headers: list[str] | None = Field(default=None, description="names to remove")


class HeadersOut(Schema):
    """Svix's EndpointHeadersOut: credential-like headers are named in `sensitive`, their
    values never shown."""

    headers: dict[str, str]
    sensitive: list[str]


class WindowOut(Schema):
    succeeded: int
    failed: int
    total: int
    success_rate: float | None = Field(description="0..1; null without attempts")

    @classmethod
    def of(cls, counts: WindowCounts) -> WindowOut:
        return cls(succeeded=counts.succeeded, failed=counts.failed, total=counts.total,
                   success_rate=counts.success_rate)


class EndpointStatsOut(Schema):
    """Svix's EndpointStats (deliveries by state over the period) plus Hookline's health."""

    success: int
    fail: int
    pending: int
    sending: int
    canceled: int = 0
    last_24h: WindowOut = Field(alias="last24h")
    last_7d: WindowOut = Field(alias="last7d")
    success_rate_24h: float | None = Field(alias="successRate24h")
    success_rate_7d: float | None = Field(alias="successRate7d")
    last_delivery_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    disabled: bool
    health: str = Field(description="green | yellow | red; see hookline.stats.health_colour")

    @classmethod
    def of(cls, h: EndpointHealth) -> EndpointStatsOut:
        return cls(
            success=h.deliveries["success"], fail=h.deliveries["fail"],
            pending=h.deliveries["pending"], sending=h.deliveries["sending"],
            last24h=WindowOut.of(h.last_24h), last7d=WindowOut.of(h.last_7d),
            successRate24h=h.last_24h.success_rate, successRate7d=h.last_7d.success_rate,
            last_delivery_at=ts(h.last_attempt_at) if h.last_attempt_at else None,
            last_success_at=ts(h.last_success_at) if h.last_success_at else None,
            consecutive_failures=h.consecutive_failures, disabled=h.disabled,
            health=str(h.health))


class HourOut(Schema):
    start: datetime
    succeeded: int
    failed: int


class SendExampleIn(InputSchema):
    event_type: str = Field(min_length=1, max_length=256, pattern=EVENT_FILTER_PATTERN)
    payload: dict[str, Any] | None = Field(
        default=None, description="sent instead of the event type's example")
    example_index: int | None = Field(default=None, description="accepted for Svix; unused")


class SendExampleOut(MessageOut):
    """Svix's MessageOut for the example message, plus the attempt it came to."""

    attempt: MessageAttemptOut


@router.post("/secret/rotate", response_model=EndpointSecretOut, dependencies=[NoStore])
async def rotate_secret(app: AppDep, endpoint_id: str, principal: PrincipalDep,
                        service: ServiceDep,
                        body: SecretRotateIn | None = None) -> EndpointSecretOut:
    """Sign with a new secret now; the old one keeps signing beside it for the grace period
    (both signatures go in `webhook-signature`)."""
    principal.require_secret_access()
    body = body or SecretRotateIn()
    grace = body.grace_period_seconds
    ep = await service.rotate_endpoint_secret(
        app.id, endpoint_id, body.key, DEFAULT_ROTATION_GRACE if grace is None else grace)
    return EndpointSecretOut(key=ep.secret)


def split_sensitive(headers: dict[str, str]) -> HeadersOut:
    sensitive = sorted(name for name in headers if is_credential_name(name))
    return HeadersOut(headers={k: v for k, v in headers.items() if k not in sensitive},
                      sensitive=sensitive)


@router.get("/headers", response_model=HeadersOut)
async def get_headers(app: AppDep, endpoint_id: str, service: ServiceDep) -> HeadersOut:
    return split_sensitive((await service.get_endpoint(app.id, endpoint_id)).headers)


@router.put("/headers", status_code=204)
async def set_headers(app: AppDep, endpoint_id: str, body: HeadersIn,
                      service: ServiceDep) -> Response:
    """Replace every custom header."""
    await service.update_endpoint(app.id, endpoint_id, headers=body.headers)
    return Response(status_code=204)


@router.patch("/headers", status_code=204)
async def patch_headers(app: AppDep, endpoint_id: str, body: HeadersPatchIn,
                        service: ServiceDep) -> Response:
    """Set the headers given, remove those in `deleteHeaders`, keep the rest."""
    current = await service.get_endpoint(app.id, endpoint_id)
    removed = {name.lower() for name in body.delete_headers or []}
    headers = {k: v for k, v in current.headers.items() if k.lower() not in removed}
    headers.update(body.headers)
    await service.update_endpoint(app.id, endpoint_id, headers=headers)
    return Response(status_code=204)


@router.get("/stats", response_model=EndpointStatsOut)
async def endpoint_stats(app: AppDep, endpoint_id: str, service: ServiceDep,
                         since: DateTime | None = None,
                         until: Annotated[DateTime | None,
                                          Query(description="not before `since`")] = None,
                         ) -> EndpointStatsOut:
    """Deliveries by state over [since, until] (default: the last 28 days), attempt outcomes
    over the last 24 h and 7 days, last delivery and success, and a health colour."""
    health = await service.endpoint_stats(
        app.id, endpoint_id, since.timestamp() if since else None,
        until.timestamp() if until else None)
    return EndpointStatsOut.of(health)


@router.get("/stats/hourly", response_model=list[HourOut])
async def endpoint_hourly(app: AppDep, endpoint_id: str, service: ServiceDep,
                          hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24
                          ) -> list[HourOut]:
    """Attempts per hour, oldest first, ending with the current hour."""
    buckets = await service.endpoint_hourly(app.id, endpoint_id, hours)
    return [HourOut(start=ts(b.start), succeeded=b.succeeded, failed=b.failed)
            for b in buckets]


@router.post("/send-example", response_model=SendExampleOut)
async def send_example(app: AppDep, endpoint_id: str, body: SendExampleIn,
                       service: ServiceDep, idempotency: IdempotencyDep) -> SendExampleOut:
    """Send the event type's example (or the payload given) to this endpoint now, wait for
    the answer and return it. Stored as a test attempt: no retries, no effect on health."""

    async def send() -> SendExampleOut:
        attempt = await service.send_example(app.id, endpoint_id, body.event_type,
                                             body.payload)
        message = await service.get_message(app.id, attempt.message_id)
        out = MessageOut.of(message)
        return SendExampleOut(**out.model_dump(), attempt=MessageAttemptOut.of(attempt))

    return await idempotency.once(app.id, 200, SendExampleOut, send)


class ProbeOut(Schema):
    """What "Retry now" did: the probe's attempt (null when the endpoint missed nothing), and
    whether the endpoint is enabled again, with how many missed messages were queued."""

    attempt: MessageAttemptOut | None
    enabled: bool
    replayed: int


@router.post("/probe", response_model=ProbeOut)
async def retry_now(app: AppDep, endpoint_id: str, service: ServiceDep) -> ProbeOut:
    """Probe an endpoint its failure rule disabled, now: the oldest message it missed is
    sent; if it is accepted the endpoint is enabled and everything it missed is replayed."""
    outcome = await service.retry_now(app.id, endpoint_id)
    return ProbeOut(attempt=MessageAttemptOut.of(outcome.attempt) if outcome.attempt else None,
                    enabled=outcome.enabled, replayed=outcome.replayed)
