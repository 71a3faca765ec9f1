"""The `idempotency-key` header, honoured the same way on every creating POST.

The first request with a key runs in one transaction that claims the key, creates, and keeps
its answer; any other with the key (concurrent or later, within 24 h) gets that answer with
status 200 and creates nothing. A key belongs to one request (method, path and body) in one
scope (the application, or the account for account-wide routes): reusing it for another
request is a 409, so a retry can never stand in for a request it is not (a body that would
have been refused must not get the answer of one that was accepted).
Publishing keeps its keys per message instead (see `create_message`), shared with batch items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from ..service import Service
from .deps import ServiceDep

IdempotencyKey = Annotated[str | None, Header(
    alias="idempotency-key", min_length=1, max_length=256,
    description="a retry with the same key within 24 h gets the first answer (200) and "
                "creates nothing")]
BODY_DIGEST_CHARS = 16  # 64 bits of SHA-256: tells a retry from a different request
ACCOUNT = ""  # the scope of routes with no application in the path
Answer = TypeVar("Answer", bound=BaseModel)


@dataclass
class Idempotency:
    """What a route needs to answer a keyed request once."""

    service: Service
    key: str | None
    request: str
    response: Response

    async def once(self, scope: str, status: int, answer_type: type[Answer],
                   create: Callable[[], Awaitable[Answer]]) -> Answer:
        """`create()`'s answer; under a key already answered, that answer, replayed as 200."""
        if self.key is None:
            return await create()
        async with self.service.idempotent(scope, self.key, self.request) as slot:
            if slot.replay is not None:
                self.response.status_code = 200
                return answer_type.model_validate_json(slot.replay.body)
            answer = await create()
            slot.save(self.response.status_code or status, answer.model_dump_json(by_alias=True))
        return answer


async def idempotency(request: Request, response: Response, service: ServiceDep,
                      key: IdempotencyKey = None) -> Idempotency:
    # The body's digest names the request; its bytes are already read (and cached) by then.
    body = hashlib.sha256(await request.body()).hexdigest()[:BODY_DIGEST_CHARS]
    return Idempotency(service, key, f"{request.method} {request.url.path} (body {body})",
                       response)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
