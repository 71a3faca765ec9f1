"""Background tasks: one row per long job, written when it starts and when it ends.

The rows are the record the API shows (`GET /background-task`); the job itself runs in the
process that started it (service/tasks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import NotFound
from ..models import BackgroundTask, TaskStatus
from .core import Page, Row, StoreCore, Window, dump_json, load_json, window_page


def _task(row: Row) -> BackgroundTask:
    return BackgroundTask(id=row["id"], kind=row["kind"], status=TaskStatus(row["status"]),
                          data=load_json(row["data"]) or {}, app_id=row["app_id"],
                          created_at=row["created_at"], updated_at=row["updated_at"])


class TaskQueries(StoreCore):
    async def insert_task(self, task: BackgroundTask) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.insert_task, task.id, task.app_id, task.kind,
                             str(task.status), dump_json(task.data), task.created_at,
                             task.updated_at)

    async def update_task(self, task: BackgroundTask) -> None:
        """Write its status and data (and when they changed)."""
        async with self.db.transaction() as tx:
            await tx.execute(self.q.update_task, task.id, str(task.status),
                             dump_json(task.data), task.updated_at)

    async def get_task(self, task_id: str) -> BackgroundTask:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_task, task_id)
        if row is None:
            raise NotFound(f"background task {task_id!r} not found")
        return _task(row)

    async def list_tasks(self, limit: int, window: Window, *,
                         status: TaskStatus | None = None, kinds: Sequence[str] | None = None,
                         app_id: str | None = None) -> Page:
        kind_list: Any = None if kinds is None else self.dialect.list_param(kinds)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                self.q.list_tasks[window.reads_ascending], limit + 1, window.after,
                window.before, None if status is None else str(status), kind_list, app_id)
        return window_page([_task(r) for r in rows], limit, lambda t: t.id, window)
