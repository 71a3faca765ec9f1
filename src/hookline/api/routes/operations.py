"""Routes for operators: `/healthz` (the process answers), `/readyz` (it should get traffic),
`/metrics` (Prometheus). Outside `/api/v1` and the OpenAPI document, unauthenticated, as
probes and scrapers expect; none of them shows anything secret."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    status, body = await request.app.state.service.readiness()
    return JSONResponse(body, status_code=status)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    body, content_type = await request.app.state.service.metrics_exposition()
    return Response(body, media_type=content_type)
