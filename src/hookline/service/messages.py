"""Publishing (fan-out in one transaction), messages, attempts, resend and recover."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import ids, metrics
from ..errors import HooklineError, InvalidInput, NotFound, PayloadTooLarge
from ..models import Application, Attempt, AttemptTrigger, Message
from ..store.base import Page, PublishResult, Subscription
from ..validation import json_bytes
from .core import AppKey, ServiceCore, check_event_type_name, clamp_limit, endpoint_wants

MAX_BATCH = 100  # messages per batch publish
BatchResult = PublishResult | HooklineError  # one item's: published, or why it was refused


@dataclass(frozen=True)
class MessageDraft:
    """A message to publish, as a caller describes it (one item of a batch)."""

    event_type: str
    payload: Any
    event_id: str | None = None
    channels: list[str] | None = None
    idempotency_key: str | None = None
    ordering_key: str | None = None


def _wanted_by(message: Message, endpoints: list[Subscription]) -> list[Subscription]:
    return [ep for ep in endpoints if endpoint_wants(ep, message)]


class MessageUseCases(ServiceCore):
    """Messages and their deliveries."""

    # -- messages ------------------------------------------------------------------------
    async def publish(
        self,
        app_key: AppKey,
        event_type: str,
        payload: Any,
        *,
        event_id: str | None = None,
        channels: list[str] | None = None,
        idempotency_key: str | None = None,
        ordering_key: str | None = None,
    ) -> PublishResult:
        """Store a message and fan it out in one transaction; once this returns, every
        matching delivery exists durably."""
        draft = MessageDraft(event_type, payload, event_id=event_id, channels=channels,
                             idempotency_key=idempotency_key, ordering_key=ordering_key)
        [result] = await self.publish_batch(app_key, [draft])
        if isinstance(result, HooklineError):
            raise result
        return result

    async def publish_batch(
        self, app_key: AppKey, drafts: Sequence[MessageDraft],
    ) -> list[BatchResult]:
        """Publish many messages in one transaction with their fan-out; one result per draft,
        in order. A draft that is not valid refuses only itself (its error is its result)."""
        app = await self.get_app(app_key)
        if len(drafts) > MAX_BATCH:
            raise InvalidInput(f"a batch holds at most {MAX_BATCH} messages", field="messages")
        checked: list[Message | HooklineError] = []
        for draft in drafts:
            try:
                checked.append(await self._checked_message(app, draft))
            except (InvalidInput, PayloadTooLarge) as exc:
                checked.append(exc)
        valid = [(m, d.idempotency_key) for m, d in zip(checked, drafts, strict=True)
                 if isinstance(m, Message)]
        # The routing table as of this request's configuration version (see config_cache).
        routes = await self.config.subscriptions(app.id) if valid else []
        published = iter(await self.store.publish_batch(
            valid, _wanted_by, routes, expected_version=self.config.unchecked_version()))
        results = [item if isinstance(item, HooklineError) else next(published)
                   for item in checked]
        stored = sum(1 for r in results if isinstance(r, PublishResult) and r.created)
        if stored:
            metrics.count_published(app.id, stored)
        if any(r.endpoint_ids for r in results if isinstance(r, PublishResult)):
            self.on_due()
        return results

    async def _checked_message(self, app: Application, draft: MessageDraft) -> Message:
        """The message a draft describes, once it passes every rule of a publish."""
        check_event_type_name(draft.event_type, "eventType")
        if not isinstance(draft.payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        size = len(json_bytes(draft.payload, "payload"))
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is {size} bytes; the limit is {self.settings.max_payload_bytes}")
        if draft.channels is not None and not 1 <= len(draft.channels) <= 10:
            raise InvalidInput("channels must hold 1 to 10 names", field="channels")
        if not self.operational.is_internal(app):
            await self._check_against_catalogue(draft.event_type, draft.payload)
        return Message(id=ids.new_id(ids.MESSAGE), app_id=app.id, event_type=draft.event_type,
                       payload=draft.payload, event_id=draft.event_id, channels=draft.channels,
                       created_at=self.clock(), ordering_key=draft.ordering_key)

    async def get_message(self, app_key: AppKey, key: str) -> Message:
        app = await self.get_app(app_key)
        return await self.store.get_message(app.id, key)

    async def list_messages(self, app_key: AppKey, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.get_app(app_key)
        return await self.store.list_messages(app.id, clamp_limit(limit), iterator, **filters)

    # -- attempts, resend, recover ---------------------------------------------------------
    async def list_attempts(self, app_key: AppKey, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.get_app(app_key)
        if filters.get("message_id"):
            filters["message_id"] = (await self.store.get_message(app.id,
                                                                  filters["message_id"])).id
        if filters.get("endpoint_id"):
            filters["endpoint_id"] = (await self.store.get_endpoint(app.id,
                                                                    filters["endpoint_id"])).id
        return await self.store.list_attempts(app.id, clamp_limit(limit), iterator, **filters)

    async def resend(self, app_key: AppKey, message_key: str, endpoint_key: str) -> None:
        app = await self.get_app(app_key)
        message = await self.store.get_message(app.id, message_key)
        endpoint = await self.store.get_endpoint(app.id, endpoint_key)
        await self.store.requeue_delivery(app.id, message.id, endpoint.id, self.clock(),
                                          AttemptTrigger.MANUAL)
        self.on_due()

    async def recover(self, app_key: AppKey, endpoint_key: str, since: float,
                      until: float | None = None) -> int:
        """Send again every failed delivery of the endpoint created between since and until."""
        if until is not None and until < since:
            raise InvalidInput("until must not be before since", field="until")
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        count = await self.store.requeue_failed_since(endpoint.app_id, endpoint.id, since,
                                                      self.clock(), until)
        if count:
            self.on_due()
        return count

    async def get_attempt(self, app_key: AppKey, message_key: str, attempt_id: str) -> Attempt:
        message = await self.get_message(app_key, message_key)
        attempt = await self.store.get_attempt(message.app_id, attempt_id)
        if attempt.message_id != message.id:
            raise NotFound(f"attempt {attempt_id!r} not found")
        return attempt
