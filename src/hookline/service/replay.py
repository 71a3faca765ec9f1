"""Replays, Svix's way: `replay-missing` (what an endpoint never got) and `bulk-replay` (what
it was sent, filtered), each a background task, or with `dry_run` a count and the first ids.

Replayed deliveries go through the ordinary queue, so the worker's fairness and limits apply
to them as to live traffic. A delivery a worker holds is never queued again (nothing twice).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal, overload

from ..errors import InvalidInput
from ..models import JSON, BackgroundTask, Endpoint, Message
from ..store.base import DeliveredMessage, ReplayCount, ReplayWindow
from .core import AppKey, ServiceCore, endpoint_wants
from .tasks import TaskProgress

REPLAY_MISSING = "endpoint.replay"
BULK_REPLAY = "endpoint.bulk-replay"
BULK_BATCH = 500  # messages queued per transaction by a bulk replay
# Svix's MessageStatus of a delivery: 0 success, 1 pending, 2 fail, 3 sending.
_STATUS = {"succeeded": 0, "pending": 1, "failed": 2}


@dataclass(frozen=True)
class BulkFilter:
    """Svix's BulkReplayIn filters (None: any)."""

    status: int | None = None
    status_code_class: int | None = None
    event_types: list[str] | None = None
    channel: str | None = None
    tag: str | None = None

    def matches(self, found: DeliveredMessage) -> bool:
        m = found.message
        status = 3 if found.leased else _STATUS.get(found.status, 1)
        if self.status is not None and status != self.status:
            return False
        if self.status_code_class is not None:
            code_class = (found.last_status_code or 0) // 100 * 100
            if code_class != self.status_code_class:
                return False
        if self.event_types is not None and m.event_type not in self.event_types:
            return False
        if self.channel is not None and self.channel not in (m.channels or []):
            return False
        return self.tag is None or self.tag in (m.tags or [])


Replay = BackgroundTask | ReplayCount  # a task started, or a dry run's answer


def _window(endpoint: Endpoint, since: float, until: float | None) -> ReplayWindow:
    if until is not None and until < since:
        raise InvalidInput("until must not be before since", field="until")
    wanting = replace(endpoint, disabled=False)
    return ReplayWindow(since=since, until=until, wanted=lambda m: endpoint_wants(wanting, m))


class ReplayUseCases(ServiceCore):
    """replay-missing and bulk-replay (the background tasks are service/tasks.py's)."""

    # TaskUseCases' (service/tasks.py), beside this in `Service`.
    start_task: Callable[..., Awaitable[BackgroundTask]]

    @overload
    async def replay_missing(self, app_key: AppKey, endpoint_key: str, since: float,
                             until: float | None = None, *,
                             dry_run: Literal[True]) -> ReplayCount: ...

    @overload
    async def replay_missing(self, app_key: AppKey, endpoint_key: str, since: float,
                             until: float | None = None,
                             dry_run: Literal[False] = False) -> BackgroundTask: ...

    @overload
    async def replay_missing(self, app_key: AppKey, endpoint_key: str, since: float,
                             until: float | None = None, dry_run: bool = False) -> Replay: ...

    async def replay_missing(self, app_key: AppKey, endpoint_key: str, since: float,
                             until: float | None = None, dry_run: bool = False) -> Replay:
        """Send every message of [since, until] the endpoint should have had and never got
        (none sent, or failed); queued ones are left to arrive."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        window = _window(endpoint, since, until)
        if dry_run:
            return await self.store.replay_missed(endpoint, window, self.clock(), dry_run=True)

        async def job(_: TaskProgress) -> JSON:
            counted = await self.store.replay_missed(endpoint, window, self.clock())
            if counted.count:
                self.on_due()
            return {"messagesSent": counted.count}

        return await self.start_task(REPLAY_MISSING, job, app_id=endpoint.app_id)

    async def bulk_replay(self, app_key: AppKey, endpoint_key: str, since: float,
                          until: float | None, chosen: BulkFilter,
                          dry_run: bool = False) -> Replay:
        """Send again every message of [since, until] addressed to the endpoint that the
        filters select, delivered or not; each at most once per replay."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        window = _window(endpoint, since, until)
        if dry_run:
            counted = ReplayCount()
            async for found in self.store.delivered_messages(endpoint, since, until):
                if not found.leased and chosen.matches(found):
                    counted.add(found.message.id)
            return counted

        async def job(progress: TaskProgress) -> JSON:
            sent = 0
            batch: list[Message] = []
            async for found in self.store.delivered_messages(endpoint, since, until):
                if found.leased or not chosen.matches(found):
                    continue
                batch.append(found.message)
                if len(batch) >= BULK_BATCH:
                    await self.store.replay_messages(endpoint, batch, window, self.clock())
                    sent += len(batch)
                    batch = []
                    await progress.report({"messagesSent": sent})
            if batch:
                await self.store.replay_messages(endpoint, batch, window, self.clock())
                sent += len(batch)
            if sent:
                self.on_due()
            return {"messagesSent": sent}

        return await self.start_task(BULK_REPLAY, job, app_id=endpoint.app_id)
