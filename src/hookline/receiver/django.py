"""Django integration: a view decorator that verifies, de-duplicates and passes the event.

    @webhook(secret=settings.HOOKLINE_SECRET, dedupe=SqliteStore("dedupe.db"))
    def receive(request, event): ...

The view is CSRF-exempt (the signature is the authentication) and gets the event after the
request. Returning None answers 204. Refusals: 401 bad signature, 400 invalid JSON or no event
id, 200 for a duplicate of a finished event, 503 + Retry-After while the first delivery runs.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ._endpoint import NO_CONTENT, Reply, View, ViewDecorator

__all__ = ["webhook"]


# Named in lower case as the decorator it is used as: `@webhook(secret, ...)` over a view.
class webhook(ViewDecorator):
    """Decorate a Django view (sync or async) taking `(request, event, *args, **kwargs)`."""

    def read(self, args: tuple[Any, ...]) -> tuple[bytes, Any]:
        request: HttpRequest = args[0]
        return request.body, request.headers

    def view_args(self, event: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        request, *rest = args
        return (request, event, *rest)

    def respond(self, reply: Reply) -> HttpResponse:
        return JsonResponse(reply.body, status=reply.status, headers=reply.headers)

    def no_content(self) -> HttpResponse:
        return HttpResponse(status=NO_CONTENT)

    def wrap(self, view: View) -> View:
        """Django's `csrf_exempt` with its type (Django ships none): a webhook carries no CSRF
        token, and its signature is the proof a CSRF token would be."""
        exempt: View = csrf_exempt(view)
        return exempt
