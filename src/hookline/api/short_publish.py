"""The single publish, `POST /api/v1/app/{app_id}/msg`, answered without FastAPI's routing and
dependency machinery.

It is the request publishers send most, and py-spy on a running `serve` put FastAPI (route
matching over every route, dependency solving, the body and response models run twice) at
about a third of the process's CPU per publish: more than the publish's own statement.
`ShortPublish` answers a *plain* publish itself, with the same steps the route takes:
`authenticate_publisher`, `app_in_scope`, `MessageIn`, `publish_single`, `MessageOut`.

Anything else goes to the FastAPI route untouched, its body replayed: a query string, a body
that is not JSON or that `MessageIn` refuses, a token or application refused, an
`idempotency-key` FastAPI would refuse. So every refusal before the publish is answered by
the route and its handlers, exactly as before; a refusal *by* the publish is answered here
with the same problem document (`hookline_problem`). The route also keeps the operation in
the OpenAPI document. It sits inside the body limit and the other guards (see `create_app`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import HooklineError
from .auth import authenticate_publisher
from .deps import app_in_scope
from .problems import hookline_problem
from .routes.messages import publish_single
from .schemas import MessageIn, MessageOut

PUBLISH_PATH = re.compile(r"/api/v1/app/([^/]+)/msg")  # as the route's `{app_id}` matches
MAX_KEY = 256  # the route's `idempotency-key` bounds (api/idempotency.py)
_JSON_RESPONSE = [(b"content-type", b"application/json")]


class ShortPublish:
    """ASGI middleware: plain single publishes answered here, everything else passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PUBLISH_PATH.fullmatch(scope["path"]) if _plain_post(scope) else None
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = request.headers.get("idempotency-key")
        if not _json_media(request.headers.get("content-type", "")) or (
                key is not None and not 1 <= len(key) <= MAX_KEY):
            await self.app(scope, receive, send)
            return
        body = await request.body()
        app_key = match.group(1)
        try:
            draft = MessageIn.model_validate(json.loads(body))
            principal = await authenticate_publisher(request)
            app = await app_in_scope(app_key, principal, request.app.state.service)
        except (ValueError, RecursionError, ValidationError, HooklineError):
            # Refused before anything is stored: the route decides, and answers, again.
            await self.app(scope, _replaying(body, receive), send)
            return
        try:
            message, created = await publish_single(request, app_key, app, draft,
                                                    request.app.state.service, key)
        except HooklineError as refused:
            await hookline_problem(request, refused)(scope, receive, send)
            return
        answer = MessageOut.of(message).model_dump_json(by_alias=True).encode()
        await send({"type": "http.response.start", "status": 202 if created else 200,
                    "headers": [*_JSON_RESPONSE,
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


def _plain_post(scope: Scope) -> bool:
    return (scope["type"] == "http" and scope["method"] == "POST"
            and not scope.get("query_string"))


def _json_media(content_type: str) -> bool:
    """What FastAPI reads as a JSON body: `application/json` or `application/*+json`."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` as if nothing had been read: the body once, then the connection's own."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay
