"""Django integration: a view decorator that verifies, de-duplicates and passes the event.

    @webhook(secret=settings.HOOKLINE_SECRET, dedupe=SqliteStore("dedupe.db"))
    def receive(request, event): ...

The view is CSRF-exempt (the signature is the authentication) and gets the event after the
request. Returning None answers 204. Refusals: 401 bad signature, 400 invalid JSON or no event
id, 200 for a duplicate of a finished event, 503 + Retry-After while the first delivery runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

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
    """Decorate a Django view (sync or async) taking `(request, event, *args, **kwargs)`."""
    endpoint = WebhookEndpoint(
        secret, scheme, header=header, tolerance=tolerance, dedupe=dedupe, event_id=event_id
    )

    def decorate(view: View) -> View:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def receive_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                accepted = endpoint.accept(request.body, request.headers)
                if isinstance(accepted, Reply):
                    return _response(accepted)
                return _finish(
                    await endpoint.ahandle(
                        accepted, lambda event: view(request, event, *args, **kwargs)
                    )
                )

            return _csrf_exempt(receive_async)

        @functools.wraps(view)
        def receive(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            accepted = endpoint.accept(request.body, request.headers)
            if isinstance(accepted, Reply):
                return _response(accepted)
            return _finish(
                endpoint.handle(accepted, lambda event: view(request, event, *args, **kwargs))
            )

        return _csrf_exempt(receive)

    return decorate


def _csrf_exempt(view: View) -> View:
    """Django's `csrf_exempt` with its type (Django ships none): a webhook carries no CSRF
    token, and its signature is the proof a CSRF token would be."""
    exempt: View = csrf_exempt(view)
    return exempt


def _finish(result: Any) -> Any:
    if isinstance(result, Reply):
        return _response(result)
    if result is None:
        return HttpResponse(status=NO_CONTENT)
    return result


def _response(reply: Reply) -> HttpResponse:
    return JsonResponse(reply.body, status=reply.status, headers=reply.headers)
