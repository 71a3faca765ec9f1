"""FastAPI (and Starlette routing) integration: a dependency that yields the verified event.

    verifier = WebhookVerifier(os.environ["HOOKLINE_SECRET"], dedupe=SqliteStore("dedupe.db"))

    @app.post("/webhooks")
    async def receive(event: Annotated[dict, Depends(verifier)]) -> None: ...

Refusals are `HTTPException`s: 401 bad signature, 400 invalid JSON or no event id, 200 for a
duplicate of a finished event, 503 + Retry-After while the first delivery is still running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException, Request

from ._dedupe import ClaimResult
from ._endpoint import Reply, WebhookEndpoint, skipped_reply

__all__ = ["WebhookVerifier"]


class WebhookVerifier(WebhookEndpoint):
    """`Depends(WebhookVerifier(...))`: reads the raw body, verifies it, de-duplicates.

    With `dedupe`, the event id is claimed before the route runs and marked done after it
    returns; if the route raises, the id is released so the sender's retry can run it.
    """

    async def __call__(self, request: Request) -> AsyncIterator[Any]:
        accepted = self.accept(await request.body(), request.headers)
        if isinstance(accepted, Reply):
            raise _http_error(accepted)
        consumer = self.consumer
        if consumer is None or accepted.event_id is None:
            yield accepted.event
            return
        claim = await consumer.aclaim(accepted.event_id)
        if claim is not ClaimResult.CLAIMED:
            raise _http_error(skipped_reply(claim))
        try:
            yield accepted.event
        except BaseException:
            await consumer.arelease(accepted.event_id)
            raise
        await consumer.acomplete(accepted.event_id)


def _http_error(reply: Reply) -> HTTPException:
    return HTTPException(reply.status, detail=reply.body, headers=reply.headers or None)
