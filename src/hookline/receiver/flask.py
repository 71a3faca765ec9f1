"""Flask integration: a view decorator that verifies, de-duplicates and passes the event.

    @app.post("/webhooks")
    @webhook(secret=os.environ["HOOKLINE_SECRET"], dedupe=SqliteStore("dedupe.db"))
    def receive(event): ...

The view gets the event as its first argument (URL parameters follow as keywords). Returning
None answers 204. Refusals: 401 bad signature, 400 invalid JSON or no event id, 200 for a
duplicate of a finished event, 503 + Retry-After while the first delivery is still running.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from ._dedupe import IdempotencyStore, IdempotentConsumer
from ._endpoint import NO_CONTENT, EventIdGetter, Reply, WebhookEndpoint
from ._signing import STANDARD, Secrets
from ._verify import DEFAULT_TOLERANCE

__all__ = ["webhook"]

View = Callable[..., Any]


def webhook(
    secret: Secrets,
    scheme: str = STANDARD,
    *,
    header: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    dedupe: IdempotencyStore | IdempotentConsumer | None = None,
    event_id: EventIdGetter | None = None,
) -> Callable[[View], View]:
    """Decorate a Flask view (sync or async) that takes the verified event first."""
    endpoint = WebhookEndpoint(
        secret, scheme, header=header, tolerance=tolerance, dedupe=dedupe, event_id=event_id
    )

    def decorate(view: View) -> View:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def receive_async(*args: Any, **kwargs: Any) -> Any:
                accepted = endpoint.accept(request.get_data(), request.headers)
                if isinstance(accepted, Reply):
                    return _response(accepted)
                return _finish(
                    await endpoint.ahandle(accepted, lambda event: view(event, *args, **kwargs))
                )

            return receive_async

        @functools.wraps(view)
        def receive(*args: Any, **kwargs: Any) -> Any:
            accepted = endpoint.accept(request.get_data(), request.headers)
            if isinstance(accepted, Reply):
                return _response(accepted)
            return _finish(endpoint.handle(accepted, lambda event: view(event, *args, **kwargs)))

        return receive

    return decorate


def _finish(result: Any) -> Any:
    if isinstance(result, Reply):
        return _response(result)
    if result is None:
        return Response(status=NO_CONTENT)
    return result


def _response(reply: Reply) -> Response:
    response = jsonify(reply.body)
    response.status_code = reply.status
    response.headers.update(reply.headers)
    return response
