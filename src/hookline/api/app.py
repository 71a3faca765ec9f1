"""The FastAPI application: routes under /api/v1, problem+json errors, OpenAPI at /openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Response
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..config import Settings
from ..portal import mount_portal
from ..runtime import Runtime
from ..tracing import TraceContext
from . import openapi, problems, redoc
from .access_log import AccessLog
from .routes import (
    applications,
    attempts,
    background_tasks,
    endpoint_ops,
    endpoints,
    event_types,
    expunge,
    messages,
    not_offered,
    operational,
    operations,
    portal_access,
    recovery,
    smile,
    statistics,
    tokens,
)
from .short_publish import ShortPublish

ERROR_RESPONSES = problems.ERROR_RESPONSES
BODY_OVERHEAD = 64 * 1024  # room for the envelope fields around a maximal payload


class BodyLimit:
    """Refuse request bodies over the limit before they are read into memory (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = problems.problem(413, "Payload too large",
                                    f"the request body exceeds {self.limit} bytes")
        await send({"type": "http.response.start", "status": 413,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(Exception):
    pass


class RejectNul:
    """Refuse a NUL byte in the path or query (400): no store can keep it as text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = (scope.get("raw_path") or scope["path"].encode()) + b"?" + \
                scope.get("query_string", b"")
            if b"%00" in raw or b"\x00" in raw or "\x00" in scope["path"]:
                response = problems.problem(400, "Bad request",
                                            "the path or query contains a NUL byte")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RejectRepeatedQuery:
    """Refuse a query parameter given twice unless the operation declares it a list (422):
    otherwise one of the values would be silently dropped."""

    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.document = document

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            names = [name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"),
                                                   keep_blank_values=True)]
            repeated = {name for name in names if names.count(name) > 1}
            if repeated:
                allowed = openapi.repeatable_query_parameters(self.document(), scope["path"],
                                                              scope["method"])
                refused = sorted(repeated - allowed) if allowed is not None else []
                if refused:
                    response = problems.problem(
                        422, "Validation failed", f"{refused[0]}: given more than once",
                        field=refused[0])
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    with_worker: bool = True,
    on_started: Callable[[Runtime], Awaitable[None]] | None = None,
) -> FastAPI:
    """The API. Without a `runtime`, the app starts its own (store, service, worker) on startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or await Runtime.start(settings, with_worker=with_worker)
        app.state.runtime = rt
        app.state.service = rt.service
        if on_started is not None:
            await on_started(rt)
        try:
            yield
        finally:
            if owned:
                await rt.stop()

    # Swagger UI at /docs and ReDoc at /redoc (api/redoc.py) from assets fastapi-offline ships
    # (MIT), served by Hookline itself: the docs load without internet access.
    app = FastAPIOffline(
        title="Hookline",
        version=__version__,
        description="Webhook delivery platform. Management API in Svix's REST shape.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs-assets",
    )
    if runtime is not None:
        app.state.runtime = runtime
        app.state.service = runtime.service
    problems.install(app)
    for module in (applications, event_types, endpoints, endpoint_ops, expunge, messages,
                   attempts, tokens, portal_access, operational, background_tasks, statistics,
                   recovery):
        app.include_router(module.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(smile.router, responses=ERROR_RESPONSES)
    app.include_router(not_offered.router)
    app.include_router(operations.router)
    app.include_router(redoc.router)
    openapi.install(app)

    @app.get("/api/v1/health", tags=["Health"],
             responses={503: problems.ERROR_RESPONSES[503]})
    async def health() -> dict[str, str]:
        await app.state.service.ping()
        return {"status": "ok"}

    @app.head("/api/v1/health/ping", include_in_schema=False)
    @app.get("/api/v1/health/ping", tags=["Health"], status_code=204)
    async def health_ping() -> Response:
        """Svix's liveness ping: 204 while the server answers, whatever the database does."""
        return Response(status_code=204)

    mount_portal(app, settings)
    app.add_middleware(ShortPublish)  # innermost: behind every guard below
    app.add_middleware(BodyLimit, limit=settings.max_payload_bytes + BODY_OVERHEAD)
    app.add_middleware(RejectRepeatedQuery, document=app.openapi)
    app.add_middleware(RejectNul)
    app.add_middleware(problems.KeepConnectionOnError)  # outermost: sees what the rest raise
    if settings.access_log:
        app.add_middleware(AccessLog)
    if settings.otel_endpoint:  # a publish continues its caller's trace (tracing/)
        app.add_middleware(TraceContext)
    return app
