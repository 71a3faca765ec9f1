"""Bodies of the Svix operations Hookline added for the drop-in (issue #17): background tasks,
usage statistics, the OpenAPI import, the precheck. Svix's field names, as in schemas.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import BackgroundTask
from .schemas import Schema, ts


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
