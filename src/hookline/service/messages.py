"""Publishing (fan-out in one transaction), messages, attempts, resend and recover."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import ids, metrics
from ..errors import Conflict, HooklineError, InvalidInput, NotFound, PayloadTooLarge
from ..models import Application, Attempt, AttemptTrigger, Message
from ..store.base import Page, PublishResult, Select, Subscription
from ..validation import json_bytes
from .core import (
    AppKey,
    ServiceCore,
    check_event_type_name,
    clamp_limit,
    endpoint_wants,
    window_of,
)
from .group_commit import GroupCommit

MAX_BATCH = 100  # messages per batch publish
MAX_TAGS = 20
_TAG = re.compile(r"^[a-zA-Z0-9\-_./\\#]{1,128}$")  # Svix's pattern for a tag
BatchResult = PublishResult | HooklineError  # one item's: published, or why it was refused
PublishLane = tuple[str, int | None]  # what a group shares: application, assumed version


class MessageDraft(NamedTuple):
    """A message to publish, as a caller describes it (one item of a batch). A named tuple:
    immutable like a frozen dataclass, and built several times faster (a hundred a batch)."""

    event_type: str
    payload: Any
    event_id: str | None = None
    channels: list[str] | None = None
    idempotency_key: str | None = None
    ordering_key: str | None = None
    tags: list[str] | None = None
    deliver_at: float | None = None


class PendingPublish(NamedTuple):
    """A single publish checked and routed, waiting for its group's write."""

    message: Message
    idempotency_key: str | None
    text: str  # the payload as stored
    targets: list[Subscription]


def check_tags(tags: list[str] | None) -> None:
    """Svix's tags: free-form labels to filter messages and attempts by."""
    if tags is None:
        return
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"tags holds at most {MAX_TAGS} tags", field="tags")
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise InvalidInput(f"tags: {tag!r} is not a tag (1-128 letters, digits, "
                               "'-', '_', '.', '/', '\\' or '#')", field="tags")


@dataclass(frozen=True)
class MessageLog:
    """One message's attempts to one endpoint, newest first: what a delivery log row shows."""

    message_id: str
    attempts: list[Attempt]

    @property
    def latest(self) -> Attempt:
        return self.attempts[0]


def _wanted_by(message: Message, endpoints: list[Subscription]) -> list[Subscription]:
    return [ep for ep in endpoints if endpoint_wants(ep, message)]


class MessageUseCases(ServiceCore):
    """Messages and their deliveries."""

    publish_groups: GroupCommit[PublishLane, PendingPublish, PublishResult] | None

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
        tags: list[str] | None = None,
        deliver_at: float | None = None,
        payload_life: float | None = None,
        coalesce: bool = False,
    ) -> PublishResult:
        """Store a message and fan it out in one transaction; once this returns, every
        matching delivery exists durably (due at `deliver_at`, if given). `payload_life`
        (seconds) erases its content sooner than the default clock (docs/retention.md).
        `coalesce`: the transaction may be shared with concurrent publishes (group_commit.py);
        only for a caller with no transaction of its own open (one would not be joined)."""
        draft = MessageDraft(event_type, payload, event_id=event_id, channels=channels,
                             idempotency_key=idempotency_key, ordering_key=ordering_key,
                             tags=tags, deliver_at=deliver_at)
        if coalesce and self.publish_groups is not None:
            result = await self._publish_grouped(self.publish_groups, app_key, draft)
        else:
            [batched] = await self.publish_batch(app_key, [draft])
            if isinstance(batched, HooklineError):
                raise batched
            result = batched
        if payload_life is not None and result.created:
            # After the publish: a crash between the two leaves the default, longer, clock.
            message = result.message
            await self.store.set_payload_expiry(message.app_id, message.id,
                                                message.created_at + payload_life)
        return result

    async def publish_batch(
        self, app_key: AppKey, drafts: Sequence[MessageDraft],
    ) -> list[BatchResult]:
        """Publish many messages in one transaction with their fan-out; one result per draft,
        in order. A draft that is not valid refuses only itself (its error is its result)."""
        app = await self.get_app(app_key)
        if len(drafts) > MAX_BATCH:
            raise InvalidInput(f"a batch holds at most {MAX_BATCH} messages", field="messages")
        # Tracing on, the publish span's context is stored with each message (tracing/).
        attributes: dict[str, str | int] = {"hookline.app_id": app.id,
                                            "hookline.messages": len(drafts)}
        with self.tracing.span("hookline.publish", attributes=attributes) as span:
            return await self._publish_checked(app, drafts, span.traceparent)

    async def _publish_checked(self, app: Application, drafts: Sequence[MessageDraft],
                               traceparent: str | None) -> list[BatchResult]:
        checked: list[Message | HooklineError] = []
        texts: dict[str, str] = {}  # each payload encoded once: checked, then stored
        for draft in drafts:
            try:
                message, text = await self._checked_message(app, draft, traceparent)
            except (InvalidInput, PayloadTooLarge) as exc:
                checked.append(exc)
            else:
                checked.append(message)
                texts[message.id] = text
        valid = [(m, d.idempotency_key) for m, d in zip(checked, drafts, strict=True)
                 if isinstance(m, Message)]
        # The routing table as of this request's configuration version (see config_cache).
        routes = await self.config.subscriptions(app.id) if valid else []
        published = iter(await self._stored(app.id, valid, _wanted_by, routes,
                                            self.config.unchecked_version(), texts))
        return [item if isinstance(item, HooklineError) else next(published)
                for item in checked]

    async def _publish_grouped(self, groups: GroupCommit[PublishLane, PendingPublish,
                                                         PublishResult],
                               app_key: AppKey, draft: MessageDraft) -> PublishResult:
        """One publish, checked in its own task, written with those that came meanwhile."""
        app = await self.get_app(app_key)
        attributes: dict[str, str | int] = {"hookline.app_id": app.id, "hookline.messages": 1}
        with self.tracing.span("hookline.publish", attributes=attributes) as span:
            message, text = await self._checked_message(app, draft, span.traceparent)
            # Routed in the request's own task, by the table of the version its checks used
            # (publishes that read the version, unassumed, share a lane whatever they read).
            routes = await self.config.subscriptions(app.id)
            pending = PendingPublish(message, draft.idempotency_key, text,
                                     _wanted_by(message, routes))
            return await groups.submit((app.id, self.config.unchecked_version()), pending)

    async def write_publish_group(self, lane: PublishLane,
                                  group: Sequence[PendingPublish]) -> list[PublishResult]:
        """`GroupCommit`'s write: checked, routed publishes of one lane, in one transaction."""
        metrics.observe_publish_group(len(group))
        targets = {p.message.id: p.targets for p in group}
        app_id, expected_version = lane
        return await self._stored(
            app_id, [(p.message, p.idempotency_key) for p in group],
            lambda m, _table: targets[m.id], [], expected_version,
            {p.message.id: p.text for p in group})

    async def _stored(self, app_id: str, valid: list[tuple[Message, str | None]],
                      select: Select, routes: list[Subscription],
                      expected_version: int | None,
                      texts: dict[str, str]) -> list[PublishResult]:
        """`store.publish_batch`, its eventId conflict in the API's words, counted; workers
        woken if a delivery became due."""
        try:
            results = await self.store.publish_batch(
                valid, select, routes, expected_version=expected_version, payload_texts=texts)
        except Conflict as exc:
            if "event_id" not in str(exc):
                raise
            raise Conflict("a message with this eventId already exists in the application",
                           field="eventId") from None
        stored = sum(1 for r in results if r.created)
        if stored:
            metrics.count_published(app_id, stored)
        if any(r.endpoint_ids for r in results):
            self.on_due()
        return results

    async def _checked_message(self, app: Application, draft: MessageDraft,
                               traceparent: str | None = None) -> tuple[Message, str]:
        """The message a draft describes, once it passes every rule of a publish, and its
        payload encoded as stored."""
        check_event_type_name(draft.event_type, "eventType")
        if not isinstance(draft.payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        encoded = json_bytes(draft.payload, "payload")
        size = len(encoded)
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is {size} bytes; the limit is {self.settings.max_payload_bytes}")
        if draft.channels is not None and not 1 <= len(draft.channels) <= 10:
            raise InvalidInput("channels must hold 1 to 10 names", field="channels")
        check_tags(draft.tags)
        if not self.operational.is_internal(app):
            await self._check_against_catalogue(draft.event_type, draft.payload)
        # The time first, then the id: an id's time is then never before its `created_at`,
        # so a feed position made from a time (`ids.time_floor`) skips no message created
        # at or after it.
        created_at = self.clock()
        message = Message(id=ids.new_id(ids.MESSAGE), app_id=app.id,
                          event_type=draft.event_type, payload=draft.payload,
                          event_id=draft.event_id, channels=draft.channels,
                          created_at=created_at, ordering_key=draft.ordering_key,
                          tags=draft.tags, deliver_at=draft.deliver_at, traceparent=traceparent)
        return message, encoded.decode()

    async def get_message(self, app_key: AppKey, key: str) -> Message:
        app = await self.get_app(app_key)
        return await self.store.get_message(app.id, key)

    async def list_messages(self, app_key: AppKey, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.get_app(app_key)
        window = window_of(iterator, None, ascending_by_default=False, prefix=ids.MESSAGE)
        return await self.store.list_messages(app.id, clamp_limit(limit), window, **filters)

    async def precheck_active(self, app_key: AppKey, event_type: str,
                              channels: list[str] | None = None) -> bool:
        """Whether any enabled endpoint of the application would get such a message."""
        app = await self.get_app(app_key)
        check_event_type_name(event_type, "eventType")
        probe = Message(id="", app_id=app.id, event_type=event_type, payload={},
                        channels=channels)
        return bool(_wanted_by(probe, await self.config.subscriptions(app.id)))

    async def list_endpoint_messages(self, app_key: AppKey, endpoint_key: str,
                                     limit: int | None, iterator: str | None,
                                     **filters: Any) -> Page:
        """(Message, DeliveryState) pairs of what went or goes to the endpoint, newest first."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        window = window_of(iterator, None, ascending_by_default=False, prefix=ids.MESSAGE)
        return await self.store.list_endpoint_messages(
            endpoint.app_id, endpoint.id, clamp_limit(limit), window, self.clock(), **filters)

    async def list_message_endpoints(self, app_key: AppKey, message_key: str,
                                     limit: int | None, iterator: str | None) -> Page:
        """(Endpoint, DeliveryState) pairs of the endpoints the message goes to."""
        message = await self.get_message(app_key, message_key)
        window = window_of(iterator, None, ascending_by_default=True, prefix=ids.ENDPOINT)
        return await self.store.list_message_endpoints(
            message.app_id, message.id, clamp_limit(limit), window, self.clock())

    # -- attempts, resend, recover ---------------------------------------------------------
    async def list_attempts(self, app_key: AppKey, limit: int | None, iterator: str | None,
                            **filters: Any) -> Page:
        app = await self.get_app(app_key)
        window = window_of(iterator, None, ascending_by_default=False, prefix=ids.ATTEMPT)
        if filters.get("message_id"):
            filters["message_id"] = (await self.store.get_message(app.id,
                                                                  filters["message_id"])).id
        if filters.get("endpoint_id"):
            filters["endpoint_id"] = (await self.store.get_endpoint(app.id,
                                                                    filters["endpoint_id"])).id
        return await self.store.list_attempts(app.id, clamp_limit(limit), window, **filters)

    async def messages_of(self, app_key: AppKey, message_ids: list[str]) -> dict[str, Message]:
        """The application's messages of these ids, by id (what attempts point at)."""
        app = await self.get_app(app_key)
        return {m.id: m for m in await self.store.get_messages(app.id, message_ids)}

    async def endpoint_log(self, app_key: AppKey, endpoint_key: str, limit: int | None,
                           iterator: str | None, **filters: Any) -> Page:
        """The endpoint's delivery log, one `MessageLog` per message, newest first; the
        filters (outcome, event types, time range) apply to each message's latest attempt."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        page = await self.store.list_latest_attempts(endpoint.app_id, endpoint.id,
                                                     clamp_limit(limit), iterator, **filters)
        latest: list[Attempt] = page.data
        grouped: dict[str, list[Attempt]] = {a.message_id: [] for a in latest}
        for attempt in await self.store.attempts_of_messages(endpoint.app_id, endpoint.id,
                                                             list(grouped)):
            grouped[attempt.message_id].append(attempt)
        # An attempt recorded between the two reads is newer than the page's: keep to it.
        logs = [MessageLog(a.message_id, [b for b in grouped[a.message_id] if b.id <= a.id])
                for a in latest]
        return Page(logs, page.iterator, page.done)

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
