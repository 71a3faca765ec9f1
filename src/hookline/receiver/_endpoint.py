"""What every framework helper does with a webhook request, minus the framework.

verify -> find the event id -> claim it -> run the handler -> answer. The FastAPI, Flask and
Django helpers only translate requests and `Reply` values; the decisions live here, once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ._dedupe import ClaimResult, IdempotencyStore, IdempotentConsumer, OnceOutcome, OnceStatus
from ._errors import INVALID_JSON, WebhookVerificationError
from ._headers import normalize_headers
from ._verify import ID_HEADERS
from ._webhook import Webhook

T = TypeVar("T")

EventIdGetter = Callable[[Any, Mapping[str, str]], "str | None"]
"""`(event, headers) -> id`; headers have lower-case names. Return None when there is none."""

RETRY_AFTER_SECONDS = 30
"""Suggested wait before the sender retries a duplicate whose first delivery is still running."""

UNAUTHORIZED = 401
BAD_REQUEST = 400
DUPLICATE_STATUS = 200
IN_PROGRESS_STATUS = 503
NO_CONTENT = 204


@dataclass(frozen=True)
class Reply:
    """An answer given without (or instead of) the handler's own response."""

    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """A request whose signature checked out: its parsed event, and its id if one was found."""

    event: Any
    event_id: str | None


def default_event_id(event: Any, headers: Mapping[str, str]) -> str | None:
    """`webhook-id` (or `svix-id`) header, which Hookline sends with every scheme, else the
    body's top-level `id` (the Smile envelope's field)."""
    for name in ID_HEADERS:
        if headers.get(name):
            return headers[name]
    if isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"]:
        return str(event["id"])
    return None


@dataclass(eq=False, repr=False, kw_only=True)
class WebhookEndpoint(Webhook):
    """Verification settings plus optional de-duplication, shared by the framework helpers.

    `dedupe` is a store (wrapped in an `IdempotentConsumer` with default lease) or a consumer;
    `event_id` finds an event's id (default `default_event_id`).
    """

    dedupe: IdempotencyStore | IdempotentConsumer | None = None
    event_id: EventIdGetter | None = None
    consumer: IdempotentConsumer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dedupe is None or isinstance(self.dedupe, IdempotentConsumer):
            self.consumer = self.dedupe
        else:
            self.consumer = IdempotentConsumer(self.dedupe)

    def accept(self, body: bytes, headers: Any) -> Accepted | Reply:
        """The verified event, or the reply that refuses the request."""
        try:
            event = self.verify(body, headers)
        except WebhookVerificationError as error:
            status = BAD_REQUEST if error.reason == INVALID_JSON else UNAUTHORIZED
            return Reply(status, {"error": error.reason, "message": error.message})
        if self.consumer is None:
            return Accepted(event, None)
        flat = {name: values[0] for name, values in normalize_headers(headers).items()}
        event_id = (self.event_id or default_event_id)(event, flat)
        if not event_id:
            return Reply(BAD_REQUEST, {"error": "missing_event_id",
                                       "message": "no event id to de-duplicate by"})
        return Accepted(event, event_id)

    def handle(self, accepted: Accepted, handler: Callable[[Any], T]) -> T | Reply:
        """Run `handler(event)` once per event id; a duplicate gets a `Reply` instead."""
        if self.consumer is None or accepted.event_id is None:
            return handler(accepted.event)
        outcome = self.consumer.run_once(accepted.event_id, lambda: handler(accepted.event))
        return _result(outcome)

    async def ahandle(
        self, accepted: Accepted, handler: Callable[[Any], Awaitable[T]]
    ) -> T | Reply:
        if self.consumer is None or accepted.event_id is None:
            return await handler(accepted.event)
        outcome = await self.consumer.arun_once(
            accepted.event_id, lambda: handler(accepted.event)
        )
        return _result(outcome)


def skipped_reply(claim: ClaimResult | OnceStatus) -> Reply:
    """200 for a duplicate of a finished event (nothing left to do, stop retrying); 503 with
    Retry-After while the first delivery still runs, so the sender comes back and learns how
    that one ended (if it failed, the retry runs the handler)."""
    if claim.value == ClaimResult.DUPLICATE.value:
        return Reply(DUPLICATE_STATUS, {"status": "duplicate"})
    return Reply(
        IN_PROGRESS_STATUS, {"status": "in_progress"}, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def _result(outcome: OnceOutcome[T]) -> T | Reply:
    if outcome.status is OnceStatus.RAN:
        return cast(T, outcome.value)  # RAN always carries the handler's value
    return skipped_reply(outcome.status)


View = Callable[..., Any]


class ViewDecorator(WebhookEndpoint):
    """`@helper(secret, ...)` over a view (sync or async) that returns its own response, as Flask
    and Django views do: a subclass says how to read the request and how to answer."""

    def __call__(self, view: View) -> View:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def receive_async(*args: Any, **kwargs: Any) -> Any:
                accepted = self.accept(*self.read(args))
                if isinstance(accepted, Reply):
                    return self.respond(accepted)
                return self._finish(await self.ahandle(
                    accepted, lambda event: view(*self.view_args(event, args), **kwargs)))

            return self.wrap(receive_async)

        @functools.wraps(view)
        def receive(*args: Any, **kwargs: Any) -> Any:
            accepted = self.accept(*self.read(args))
            if isinstance(accepted, Reply):
                return self.respond(accepted)
            return self._finish(self.handle(
                accepted, lambda event: view(*self.view_args(event, args), **kwargs)))

        return self.wrap(receive)

    def read(self, args: tuple[Any, ...]) -> tuple[bytes, Any]:
        """The request's raw body and its headers, given the view's arguments."""
        raise NotImplementedError

    def view_args(self, event: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """The view's positional arguments, with the event among them."""
        raise NotImplementedError

    def respond(self, reply: Reply) -> Any:
        """The framework's response for a `Reply`."""
        raise NotImplementedError

    def no_content(self) -> Any:
        """The framework's empty 204 response, for a view that returned None."""
        raise NotImplementedError

    def wrap(self, view: View) -> View:
        """A last touch to the decorated view (Django makes it CSRF-exempt)."""
        return view

    def _finish(self, result: Any) -> Any:
        if isinstance(result, Reply):
            return self.respond(result)
        if result is None:
            return self.no_content()
        return result
