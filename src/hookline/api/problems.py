"""RFC 9457 problem details: every error the API returns, mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ..errors import HooklineError, StoreUnavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
_CODES = {400: "bad_request", 401: "authentication_failed", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "validation", 429: "rate_limited",
          500: "internal_error", 503: "unavailable"}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "code": _CODES.get(status, "error"), **extra}
    headers = {"retry-after": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(HooklineError)
    async def hookline_error(request: Request, exc: HooklineError) -> JSONResponse:
        if isinstance(exc, StoreUnavailable):
            log.warning("%s %s: %s", request.method, request.url.path, exc.detail)
        extra = {"field": exc.field} if exc.field else {}
        return problem(exc.status, exc.title, exc.detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "Malformed JSON", "the request body is not valid JSON")
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = _location(first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}"
        issues = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                   "type": e.get("type", "")} for e in errors]
        return problem(422, "Validation failed", detail, field=where, errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=exc)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
