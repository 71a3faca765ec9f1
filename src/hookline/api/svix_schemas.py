"""Bodies of the Svix operations Hookline added for the drop-in (issue #17): background tasks,
usage statistics, the OpenAPI import, the precheck. Svix's field names, as in schemas.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ..models import BackgroundTask, DeliveryState, Endpoint, EventType, Message
from .schemas import (
    EVENT_TYPE_PATTERN,
    STATUS_TEXT,
    DateTime,
    EndpointOut,
    InputSchema,
    MessageOut,
    Schema,
    ts,
)


class BackgroundTaskOut(Schema):
    id: str
    task: str
    status: str
    data: dict[str, Any]
    updated_at: datetime

    @classmethod
    def of(cls, task: BackgroundTask) -> BackgroundTaskOut:
        return cls(id=task.id, task=task.kind, status=str(task.status), data=task.data,
                   updated_at=ts(task.updated_at))


class BackgroundTaskStarted(Schema):
    """What an operation that starts a task answers (202): the task, without its data."""

    id: str
    task: str
    status: str
    updated_at: datetime

    @classmethod
    def of(cls, task: BackgroundTask) -> BackgroundTaskStarted:
        return cls(id=task.id, task=task.kind, status=str(task.status),
                   updated_at=ts(task.updated_at))


# -- attempted messages and destinations -----------------------------------------------------
STATUS_CODES = {text: code for code, text in STATUS_TEXT.items()}


class DeliveryStateFields(Schema):
    status: int = Field(description="0 success, 1 pending, 2 failed, 3 sending (Svix)")
    status_text: str = Field(description="success | pending | fail | sending")
    next_attempt: datetime | None = None

    @staticmethod
    def state(state: DeliveryState) -> dict[str, Any]:
        return {"status": STATUS_CODES[state.status], "status_text": state.status,
                "next_attempt": None if state.next_attempt_at is None
                else ts(state.next_attempt_at)}


class EndpointMessageOut(MessageOut, DeliveryStateFields):
    """A message attempted to an endpoint, with where it stands there."""

    @classmethod
    def of_pair(cls, pair: tuple[Message, DeliveryState],
                with_content: bool = True) -> EndpointMessageOut:
        message, state = pair
        shown = MessageOut.of(message, with_content).model_dump()
        return cls(**shown, **cls.state(state))


class MessageEndpointOut(EndpointOut, DeliveryStateFields):
    """An endpoint a message was attempted to, with where the message stands there."""

    @classmethod
    def of_pair(cls, pair: tuple[Endpoint, DeliveryState]) -> MessageEndpointOut:
        endpoint, state = pair
        return cls(**EndpointOut.of(endpoint).model_dump(), **cls.state(state))


class MessagePrecheckIn(InputSchema):
    event_type: str = Field(min_length=1, max_length=256, pattern=EVENT_TYPE_PATTERN)
    channels: list[str] | None = Field(default=None, min_length=1, max_length=10)


class MessagePrecheckOut(Schema):
    active: bool = Field(description="whether any enabled endpoint would get such a message")


# -- usage statistics ------------------------------------------------------------------------
class AppUsageStatsIn(InputSchema):
    since: DateTime
    until: DateTime
    app_ids: list[str] | None = Field(default=None, max_length=1000,
                                      description="ids or uids; default: every application")


class AppUsageStatsOut(BackgroundTaskStarted):
    unresolved_app_ids: list[str]


# -- event types from an OpenAPI document ----------------------------------------------------
class EventTypeImportOpenApiIn(InputSchema):
    dry_run: bool = False
    replace_all: bool = False
    spec: dict[str, Any] | None = None
    spec_raw: str | None = None


class EventTypeFromOpenApi(Schema):
    name: str
    description: str
    schemas: dict[str, Any] | None
    deprecated: bool
    group_name: str | None
    feature_flags: list[str] | None

    @classmethod
    def of(cls, et: EventType) -> EventTypeFromOpenApi:
        return cls(name=et.name, description=et.description,
                   schemas={"1": et.schema} if et.schema else None, deprecated=et.deprecated,
                   group_name=et.group_name, feature_flags=et.feature_flags)


class EventTypeImportOpenApiOutData(Schema):
    modified: list[str]
    # Svix spells this one in snake case.
    to_modify: list[EventTypeFromOpenApi] | None = Field(default=None, alias="to_modify")


class EventTypeImportOpenApiOut(Schema):
    data: EventTypeImportOpenApiOutData
