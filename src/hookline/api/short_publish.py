"""The publishes, `POST /api/v1/app/{app_id}/msg` and `.../msg/batch`, answered without
FastAPI's routing and dependency machinery.

They are the requests publishers send most, and py-spy on a running `serve` put FastAPI (route
matching over every route, dependency solving, the body and response models run twice) at
about a third of the process's CPU per publish: more than the publish's own statement, and a
tenth of a batch's. `ShortPublish` answers a *plain* publish itself, with the same steps the
route takes: `authenticate_publisher`, `app_in_scope`, `MessageIn`, `publish_single`,
`MessageOut`; for a batch `authenticate_publisher`, `app_in_scope`, `MessageBatchIn`,
`publish_batch` (checked against the configuration last seen, as a single publish is).

Anything else goes to the FastAPI route untouched, its body replayed: a query string, a body
that is not JSON or that the body model refuses, a token or application refused, an
`idempotency-key` FastAPI would refuse, any `idempotency-key` on a batch (the route stores
the answer for replays). So every refusal before the publish is answered by
the route and its handlers, exactly as before; a refusal *by* the publish is answered here
with the same problem document (`hookline_problem`). The route also keeps the operation in
the OpenAPI document. It sits inside the body limit and the other guards (see `create_app`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import HooklineError, StaleConfiguration
from ..service import Service
from .auth import authenticate, authenticate_publisher
from .deps import app_in_scope
from .problems import hookline_problem
from .routes.messages import MessageBatchIn, publish_batch, publish_single
from .schemas import MessageIn, MessageOut

PUBLISH_PATH = re.compile(r"/api/v1/app/([^/]+)/msg")  # as the route's `{app_id}` matches
BATCH_PATH = re.compile(r"/api/v1/app/([^/]+)/msg/batch")
MAX_KEY = 256  # the route's `idempotency-key` bounds (api/idempotency.py)
_JSON_RESPONSE = [(b"content-type", b"application/json")]


class ShortPublish:
    """ASGI middleware: plain single and batch publishes answered here, everything else
    passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if _plain_post(scope) else ""
        match = PUBLISH_PATH.fullmatch(path) or BATCH_PATH.fullmatch(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        batch = match.re is BATCH_PATH
        request = Request(scope, receive)
        key = request.headers.get("idempotency-key")
        if not _json_media(request.headers.get("content-type", "")) or (
                key is not None and (batch or not 1 <= len(key) <= MAX_KEY)):
            # A batch under an idempotency-key goes to the route, which keeps its answer.
            await self.app(scope, receive, send)
            return
        body = await request.body()
        service = request.app.state.service
        prepare = (partial(_batch, request, match.group(1), body, service) if batch else
                   partial(_single, request, match.group(1), body, key, service))
        try:
            publish = await prepare()
        except (ValueError, RecursionError, ValidationError, HooklineError):
            # Refused before anything is stored: the route decides, and answers, again.
            await self.app(scope, _replaying(body, receive), send)
            return
        try:
            status, answer = await publish()
        except HooklineError as refused:
            await hookline_problem(request, refused)(scope, receive, send)
            return
        await _answer(send, status, answer)


Publish = Callable[[], Awaitable[tuple[int, str]]]  # the publish: its status and JSON answer


async def _single(request: Request, app_key: str, body: bytes, key: str | None,
                  service: Service) -> Publish:
    """The single publish, once its body, token and application are accepted."""
    draft = MessageIn.model_validate(json.loads(body))
    app = await app_in_scope(app_key, await authenticate_publisher(request), service)

    async def publish() -> tuple[int, str]:
        message, created = await publish_single(request, app_key, app, draft, service, key)
        return 202 if created else 200, MessageOut.of(message).model_dump_json(by_alias=True)

    return publish


async def _batch(request: Request, app_key: str, body: bytes, service: Service) -> Publish:
    """The batch publish, once its body, token and application are accepted: checked, as
    a single publish is, against the configuration last seen (`authenticate_publisher`)."""
    batch = MessageBatchIn.model_validate(json.loads(body))
    app = await app_in_scope(app_key, await authenticate_publisher(request), service)

    async def publish() -> tuple[int, str]:
        try:
            answer = await publish_batch(service, app, batch, with_content=True)
        except StaleConfiguration:  # its write found the version it assumed moved
            stale = True
        except HooklineError:
            if not await service.configuration_moved():
                raise
            stale = True
        else:
            # A batch whose every item was refused wrote nothing, so nothing checked that
            # what refused them (the catalogue, say) is still current.
            stale = all(item.outcome == "refused" for item in answer.data) and (
                await service.configuration_moved())
        if stale:  # nothing was stored: decide again, from the database this time
            current = await app_in_scope(app_key, await authenticate(request), service)
            answer = await publish_batch(service, current, batch, with_content=True)
        return 200, answer.model_dump_json(by_alias=True)

    return publish


async def _answer(send: Send, status: int, body: str) -> None:
    encoded = body.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_RESPONSE, (b"content-length", str(len(encoded)).encode())]})
    await send({"type": "http.response.body", "body": encoded})


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
