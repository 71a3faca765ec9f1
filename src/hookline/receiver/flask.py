"""Flask integration: a view decorator that verifies, de-duplicates and passes the event.

    @app.post("/webhooks")
    @webhook(secret=os.environ["HOOKLINE_SECRET"], dedupe=SqliteStore("dedupe.db"))
    def receive(event): ...

The view gets the event as its first argument (URL parameters follow as keywords). Returning
None answers 204. Refusals: 401 bad signature, 400 invalid JSON or no event id, 200 for a
duplicate of a finished event, 503 + Retry-After while the first delivery is still running.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from ._endpoint import NO_CONTENT, Reply, ViewDecorator

__all__ = ["webhook"]


# Named in lower case as the decorator it is used as: `@webhook(secret, ...)` over a view.
class webhook(ViewDecorator):
    """Decorate a Flask view (sync or async) that takes the verified event first."""

    def read(self, args: tuple[Any, ...]) -> tuple[bytes, Any]:
        return request.get_data(), request.headers

    def view_args(self, event: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (event, *args)

    def respond(self, reply: Reply) -> Response:
        response = jsonify(reply.body)
        response.status_code = reply.status
        response.headers.update(reply.headers)
        return response

    def no_content(self) -> Response:
        return Response(status=NO_CONTENT)
