"""RFC 9457 problem details: every error the API returns, mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics
from ..errors import HooklineError, StoreUnavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
_CODES = {400: "bad_request", 401: "authentication_failed", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 408: "request_timeout", 409: "conflict",
          413: "payload_too_large", 415: "unsupported_media_type", 422: "validation",
          429: "rate_limited", 431: "header_fields_too_large",
          500: "internal_error", 503: "unavailable"}


ROUTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Svix SDKs mark every request with this header; their 422 parser needs `detail` as a list.
SVIX_SDK_HEADER = "svix-req-id"


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error this API returns has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | list[ValidationIssue] = Field(
        description="what went wrong; on a 422 to a Svix SDK (a request carrying svix-req-id) "
                    "the list of issues Svix's error parser expects")
    code: str = Field(description="a stable machine-readable reason")
    field: str | None = Field(default=None, description="the request field at fault")
    errors: list[ValidationIssue] | None = None


_DESCRIPTIONS = {400: "Malformed request", 401: "Missing or invalid bearer token",
                 403: "The token may not do this", 404: "Not found (or not yours)",
                 409: "Conflicts with an existing resource", 413: "Request body too large",
                 422: "Validation failed", 503: "Database unavailable; retry shortly"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text} for status, text in _DESCRIPTIONS.items()}


def problem_body(status: int, title: str, detail: str, **extra: Any) -> Problem:
    """A problem as a value, for answers that carry several (one per batch item)."""
    return Problem(title=title, status=status, detail=detail,
                   code=_CODES.get(status, "error"), **extra)


def problem_document(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "code": _CODES.get(status, "error"), **extra}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = problem_document(status, title, detail, **extra)
    headers = {"retry-after": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _for_client(request: Request, response: JSONResponse) -> JSONResponse:
    """A Svix SDK reads a 422's `detail` as a list of {loc, msg, type}: give it one."""
    if response.status_code != 422 or SVIX_SDK_HEADER not in request.headers:
        return response
    import json

    body = json.loads(bytes(response.body))
    issues = body.get("errors") or [{"loc": ["body", body.get("field") or "body"],
                                     "msg": body["detail"], "type": "value_error"}]
    body["message"], body["detail"] = body["detail"], issues
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


def allowed_methods(request: Request, headers: Mapping[str, str]) -> str:
    """Every method served at this path (Starlette's own 405 names only the first route whose
    path matched; FastAPI has one route per method). For an API path, the methods its OpenAPI
    document declares (`/event-type/export` is its own resource, though the pattern
    `/event-type/{name}` also matches it); elsewhere, each method is tried against the routes.
    Mounted apps (static files) keep the methods they named themselves."""
    from .openapi import documented_path  # the document's module needs this one first

    item = documented_path(request.app.openapi(), request.url.path)
    if item:
        return ", ".join(sorted(m.upper() for m in item if m.upper() in ROUTED_METHODS))
    methods = {m.strip() for m in headers.get("allow", headers.get("Allow", "")).split(",")
               if m.strip()}
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    for method in ROUTED_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            methods.add(method)
    return ", ".join(sorted(methods))


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


class KeepConnectionOnError:
    """Answer an unexpected exception with the 500 problem and keep the connection open.
    Starlette's last-resort handler answers too but then re-raises, and uvicorn closes the
    connection after any exception, so the client's next request on it would fail."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            if started:
                raise
            log.error("%s %s failed: %s", scope.get("method"), scope.get("path"),
                      type(exc).__name__, exc_info=exc)
            await _unexpected_problem()(scope, receive, send)


def hookline_problem(request: Request, exc: HooklineError) -> JSONResponse:
    """The answer to a refusal the core raised (also used by the short publish path)."""
    if isinstance(exc, StoreUnavailable):
        metrics.count_store_error()
        log.warning("%s %s: %s", request.method, request.url.path, exc.detail)
    extra = {"field": exc.field} if exc.field else {}
    return _for_client(request, problem(exc.status, exc.title, exc.detail, **extra))


def _unexpected_problem() -> JSONResponse:
    return problem(500, "Internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    @app.exception_handler(HooklineError)
    async def hookline_error(request: Request, exc: HooklineError) -> JSONResponse:
        return hookline_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "Malformed JSON", "the request body is not valid JSON")
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = _location(first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}"
        issues = [{"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                   "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
        return _for_client(request, problem(422, "Validation failed", detail, field=where,
                                            errors=issues))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        response = problem(exc.status_code, title, str(exc.detail))
        if exc.status_code == 405:
            response.headers["allow"] = allowed_methods(request, exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=exc)
        return _unexpected_problem()
