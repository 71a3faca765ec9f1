"""Svix's background tasks: the record of long jobs other operations start (202)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...models import TaskStatus
from ..deps import Iterator, Limit, Order, PrincipalDep, ServiceDep
from ..schemas import ListResponse
from ..svix_schemas import BackgroundTaskOut

router = APIRouter(prefix="/background-task", tags=["Background Task"])
StatusQuery = Annotated[TaskStatus | None, Query(description="only tasks in this status")]
TaskQuery = Annotated[str | None, Query(max_length=64,
                                        description="only tasks of this type, e.g. "
                                                    "application.stats")]


@router.get("", response_model=ListResponse[BackgroundTaskOut])
async def list_background_tasks(principal: PrincipalDep, service: ServiceDep,
                                status: StatusQuery = None, task: TaskQuery = None,
                                limit: Limit = None, iterator: Iterator = None,
                                order: Order = None) -> ListResponse[BackgroundTaskOut]:
    """Newest first (`order=ascending` for oldest first); an application's token sees its
    application's tasks only."""
    page = await service.list_tasks(limit, iterator, order, status=status,
                                    kinds=None if task is None else [task],
                                    app_id=principal.app_id)
    return ListResponse.of(page, BackgroundTaskOut.of)


@router.get("/{task_id}", response_model=BackgroundTaskOut)
async def get_background_task(task_id: str, principal: PrincipalDep,
                              service: ServiceDep) -> BackgroundTaskOut:
    return BackgroundTaskOut.of(await service.get_task(task_id, app_id=principal.app_id))
