"""Idempotent requests: a creating request under a key runs once; a retry gets its answer."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from ..errors import InvalidInput
from ..store.base import IdempotentRequest
from .core import ServiceCore

MAX_KEY_LENGTH = 256


class IdempotencyUseCases(ServiceCore):
    """Running a request at most once per key."""

    def idempotent(self, scope: str, key: str,
                   request: str) -> AbstractAsyncContextManager[IdempotentRequest]:
        """One transaction for the request, the key claimed first: what the use cases called
        inside write joins it. `replay` set: answer with it and do nothing; else `save`."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(f"idempotency-key must hold 1 to {MAX_KEY_LENGTH} characters",
                               field="idempotency-key")
        return self.store.idempotent(scope, key, request, self.clock())
