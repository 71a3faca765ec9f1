"""Operational webhook endpoints (admin only): where Hookline reports endpoint changes and
failing deliveries (`hookline.service.operational`). Paths and shapes follow Svix's."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...models import Application, DeliveryOptions
from ...service import DEFAULT_ROTATION_GRACE, Service
from ..deps import AdminDep, Iterator, Limit, NoStore, ServiceDep
from ..schemas import EndpointIn, EndpointOut, EndpointSecretOut, EndpointUpdate, ListResponse
from .endpoint_ops import HeadersIn, HeadersOut, SecretRotateIn, split_sensitive
from .endpoints import merged_options

router = APIRouter(prefix="/operational-webhook/endpoint", tags=["Operational Webhook"])


async def _app(service: Service) -> Application:
    """The internal application, passed as itself: no id or uid finds it."""
    return await service.operational.ensure_app()


@router.get("", response_model=ListResponse[EndpointOut])
async def list_operational_endpoints(admin: AdminDep, service: ServiceDep,
                                     limit: Limit = None, iterator: Iterator = None
                                     ) -> ListResponse[EndpointOut]:
    page = await service.list_endpoints(await _app(service), limit, iterator)
    return ListResponse.of(page, EndpointOut.of)


@router.post("", response_model=EndpointOut, status_code=201)
async def create_operational_endpoint(body: EndpointIn, admin: AdminDep,
                                      service: ServiceDep) -> EndpointOut:
    """Receive operational events here (filter them with `filterTypes`/`eventTypes`)."""
    ep = await service.create_endpoint(
        await _app(service), url=body.url, secret=body.secret,
        options=merged_options(DeliveryOptions(), body), uid=body.uid,
        description=body.description, filter_types=body.wanted_types(),
        disabled=body.disabled, headers=body.headers or {}, metadata=body.metadata)
    return EndpointOut.of(ep)


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def get_operational_endpoint(endpoint_id: str, admin: AdminDep,
                                   service: ServiceDep) -> EndpointOut:
    return EndpointOut.of(await service.get_endpoint(await _app(service), endpoint_id))


@router.put("/{endpoint_id}", response_model=EndpointOut)
async def update_operational_endpoint(endpoint_id: str, body: EndpointUpdate, admin: AdminDep,
                                      service: ServiceDep) -> EndpointOut:
    app = await _app(service)
    current = await service.get_endpoint(app, endpoint_id)
    ep = await service.update_endpoint(
        app, endpoint_id, url=body.url, description=body.description,
        filter_types=body.wanted_types(), disabled=body.disabled, uid=body.uid,
        metadata=body.metadata, options=merged_options(current.options, body))
    return EndpointOut.of(ep)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_operational_endpoint(endpoint_id: str, admin: AdminDep,
                                      service: ServiceDep) -> Response:
    await service.delete_endpoint(await _app(service), endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/secret", response_model=EndpointSecretOut, dependencies=[NoStore])
async def get_operational_secret(endpoint_id: str, admin: AdminDep,
                                 service: ServiceDep) -> EndpointSecretOut:
    ep = await service.get_endpoint(await _app(service), endpoint_id)
    return EndpointSecretOut(key=ep.secret)


@router.post("/{endpoint_id}/secret/rotate", status_code=204)
async def rotate_operational_secret(endpoint_id: str, admin: AdminDep, service: ServiceDep,
                                    body: SecretRotateIn | None = None) -> Response:
    body = body or SecretRotateIn()
    grace = body.grace_period_seconds
    await service.rotate_endpoint_secret(
        await _app(service), endpoint_id, body.key,
        DEFAULT_ROTATION_GRACE if grace is None else grace)
    return Response(status_code=204)


@router.get("/{endpoint_id}/headers", response_model=HeadersOut)
async def get_operational_headers(endpoint_id: str, admin: AdminDep,
                                  service: ServiceDep) -> HeadersOut:
    ep = await service.get_endpoint(await _app(service), endpoint_id)
    return split_sensitive(ep.headers)


@router.put("/{endpoint_id}/headers", status_code=204)
async def set_operational_headers(endpoint_id: str, body: HeadersIn, admin: AdminDep,
                                  service: ServiceDep) -> Response:
    await service.update_endpoint(await _app(service), endpoint_id, headers=body.headers)
    return Response(status_code=204)
