"""Replays (Svix's replay-missing and bulk-replay, as background tasks, with a dry run) and
pull feeds (Svix's poller routes). See docs/recovery.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from ...models import BackgroundTask
from ...service.feed import FeedPage
from ...service.replay import BulkFilter, Replay
from ..deps import AppDep, Limit, ServiceDep
from ..schemas import DateTime, InputSchema, Schema, ts
from ..svix_schemas import BackgroundTaskStarted

router = APIRouter(prefix="/app/{app_id}", tags=["Endpoint"])
EVENT_TYPE = r"^[a-zA-Z0-9\-_.]+$"
CHANNEL = r"^[a-zA-Z0-9\-_.:+]+$"
TAG = r"^[a-zA-Z0-9\-_./\\#]+$"


class ReplayIn(InputSchema):
    since: DateTime
    until: DateTime | None = None
    dry_run: bool = Field(default=False, description="Hookline: count, send nothing")


class BulkReplayIn(ReplayIn):
    event_types: list[Annotated[str, Field(max_length=256, pattern=EVENT_TYPE)]] | None = None
    channel: str | None = Field(default=None, max_length=128, pattern=CHANNEL)
    tag: str | None = Field(default=None, max_length=128, pattern=TAG)
    status: int | None = Field(default=None, description="0 success, 1 pending, 2 fail, "
                               "3 sending, 4 canceled (Svix's MessageStatus)",
                               json_schema_extra={"enum": [0, 1, 2, 3, 4]})
    status_code_class: int | None = Field(
        default=None, json_schema_extra={"enum": [0, 100, 200, 300, 400, 500]},
        description="of the last attempt: 0 none, 200 for 2xx, ...")


class ReplayPreviewOut(Schema):
    """A dry run's answer: what the replay would send."""

    dry_run: bool = True
    count: int
    first_ids: list[str] = Field(description="the first message ids, oldest first")


def _answer(replay: Replay) -> Any:
    if isinstance(replay, BackgroundTask):
        return BackgroundTaskStarted.of(replay)
    preview = ReplayPreviewOut(count=replay.count, first_ids=replay.first_ids)
    return JSONResponse(preview.model_dump(mode="json", by_alias=True), status_code=200)


PREVIEW: dict[int | str, dict[str, Any]] = {
    200: {"model": ReplayPreviewOut, "description": "dryRun: what would be sent"}}


@router.post("/endpoint/{endpoint_id}/replay-missing", response_model=BackgroundTaskStarted,
             status_code=202, responses=PREVIEW)
async def replay_missing(app: AppDep, endpoint_id: str, body: ReplayIn,
                         service: ServiceDep) -> Any:
    """Send every message of the window the endpoint should have had and never got."""
    return _answer(await service.replay_missing(
        app.id, endpoint_id, body.since.timestamp(),
        body.until.timestamp() if body.until else None, body.dry_run))


@router.post("/endpoint/{endpoint_id}/bulk-replay", response_model=BackgroundTaskStarted,
             status_code=202, responses=PREVIEW)
async def bulk_replay(app: AppDep, endpoint_id: str, body: BulkReplayIn,
                      service: ServiceDep) -> Any:
    """Send again what the endpoint was sent in the window (delivered or not), filtered."""
    chosen = BulkFilter(status=body.status, status_code_class=body.status_code_class,
                        event_types=body.event_types, channel=body.channel, tag=body.tag)
    return _answer(await service.bulk_replay(
        app.id, endpoint_id, body.since.timestamp(),
        body.until.timestamp() if body.until else None, chosen, body.dry_run))


# -- pull feeds (Svix's polling endpoints) -------------------------------------------------
class PollingEndpointMessageOut(Schema):
    id: str
    event_type: str
    event_id: str | None
    payload: dict[str, Any]
    channels: list[str] | None
    tags: list[str] | None
    timestamp: datetime
    headers: dict[str, str] | None = None


class PollingEndpointOut(Schema):
    data: list[PollingEndpointMessageOut]
    iterator: str
    done: bool

    @classmethod
    def of(cls, page: FeedPage) -> PollingEndpointOut:
        return cls(data=[PollingEndpointMessageOut(
            id=m.id, event_type=m.event_type, event_id=m.event_id, payload=m.payload,
            channels=m.channels, tags=m.tags, timestamp=ts(m.created_at))
            for m in page.messages], iterator=page.iterator, done=page.done)


class SeekIn(InputSchema):
    after: DateTime


class SeekOut(Schema):
    iterator: str


FeedIterator = Annotated[str | None, Query(max_length=64)]


@router.get("/poller/{sink_id}", response_model=PollingEndpointOut, tags=["Message"])
async def poll(app: AppDep, sink_id: str, service: ServiceDep, limit: Limit = None,
               iterator: FeedIterator = None,
               event_type: Annotated[str | None, Query(max_length=256,
                                                       pattern=EVENT_TYPE)] = None,
               channel: Annotated[str | None, Query(max_length=128, pattern=CHANNEL)] = None,
               after: DateTime | None = None) -> PollingEndpointOut:
    """The endpoint's feed, oldest first: a polling endpoint's selection of its application's
    messages, any other endpoint's messages addressed to it."""
    return PollingEndpointOut.of(await service.read_feed(
        app.id, sink_id, limit=limit, iterator=iterator,
        after=after.timestamp() if after else None, event_type=event_type, channel=channel))


@router.get("/poller/{sink_id}/consumer/{consumer_id}", response_model=PollingEndpointOut,
            tags=["Message"])
async def poll_as_consumer(app: AppDep, sink_id: str, consumer_id: str, service: ServiceDep,
                           limit: Limit = None,
                           iterator: FeedIterator = None) -> PollingEndpointOut:
    """The consumer's next page; passing the last page's iterator moves its position there."""
    return PollingEndpointOut.of(await service.read_as_consumer(
        app.id, sink_id, consumer_id, limit=limit, iterator=iterator))


@router.post("/poller/{sink_id}/consumer/{consumer_id}/seek", response_model=SeekOut,
             tags=["Message"])
async def seek(app: AppDep, sink_id: str, consumer_id: str, body: SeekIn,
               service: ServiceDep) -> SeekOut:
    """Move the consumer to the messages created after `after`."""
    return SeekOut(iterator=await service.seek_consumer(app.id, sink_id, consumer_id,
                                                        body.after.timestamp()))
