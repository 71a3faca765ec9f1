"""Background tasks: jobs too long for one request, reported on as Svix does.

A use case that starts one answers 202 at once with the task (`running`); the job runs in this
process, and its row ends `finished` with the job's result as `data`, or `failed` with
`{"error": ...}`. Anyone can read the rows (`GET /background-task/{id}`) from any process.

The interface other use cases build on (replay, bulk expunge, usage statistics):

    task = await self.start_task("endpoint.replay", job, app_id=app.id)

where `job(progress)` is a coroutine returning the result's JSON object and may call
`await progress.report({...})` to show partial data while it runs. `wait_for_task(task_id)`
waits for a job started in this process (tests, the CLI). A job still running when the
service stops is cancelled and recorded as failed; one whose process died stays `running`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .. import ids
from ..errors import HooklineError, NotFound
from ..models import JSON, BackgroundTask, TaskStatus
from ..store.base import Page
from .core import ServiceCore, clamp_limit, window_of

log = logging.getLogger(__name__)

STOPPED = "the server stopped before the task finished"
UNEXPECTED = "the task failed unexpectedly; the server's log says why"


@dataclass
class TaskProgress:
    """What a running job holds: its task, and a way to show partial data meanwhile."""

    task: BackgroundTask
    _save: Callable[[BackgroundTask], Awaitable[None]]

    @property
    def id(self) -> str:
        return self.task.id

    async def report(self, data: JSON) -> None:
        self.task.data = dict(data)
        await self._save(self.task)


TaskJob = Callable[[TaskProgress], Awaitable[JSON]]
"""A background task's work: returns the result, kept as the finished task's `data`."""


@dataclass
class RunningTasks:
    """The jobs this process runs (strong references, so none is collected mid-run)."""

    jobs: dict[str, asyncio.Task[BackgroundTask]] = field(default_factory=dict)


class TaskUseCases(ServiceCore):
    running_tasks: RunningTasks

    async def start_task(self, kind: str, job: TaskJob, *,
                         app_id: str | None = None) -> BackgroundTask:
        """Record a running task of `kind` (Svix's task type), start `job`, return the task."""
        now = self.clock()
        task = BackgroundTask(id=ids.new_id(ids.BACKGROUND_TASK, now=now), kind=kind,
                              app_id=app_id, created_at=now, updated_at=now)
        await self.store.insert_task(task)
        shown = BackgroundTask(**task.__dict__)

        def launch() -> None:
            runner = asyncio.create_task(self._run_task(task, job), name=f"hookline-{task.id}")
            self.running_tasks.jobs[task.id] = runner
            runner.add_done_callback(lambda _: self.running_tasks.jobs.pop(task.id, None))

        # Inside a request's transaction (an idempotency key), the row is not visible to the
        # job's own connection until that commits: an update made before would find no row.
        self.store.after_commit(launch)
        return shown

    async def _run_task(self, task: BackgroundTask, job: TaskJob) -> BackgroundTask:
        try:
            result = await job(TaskProgress(task, self._save_task))
            task.status, task.data = TaskStatus.FINISHED, dict(result)
        except asyncio.CancelledError:
            task.status, task.data = TaskStatus.FAILED, {"error": STOPPED}
            await asyncio.shield(self._save_task(task))
            raise
        except HooklineError as exc:
            task.status, task.data = TaskStatus.FAILED, {"error": str(exc)}
        except Exception:
            log.exception("background task %s (%s) failed", task.id, task.kind)
            task.status, task.data = TaskStatus.FAILED, {"error": UNEXPECTED}
        await self._save_task(task)
        return task

    async def _save_task(self, task: BackgroundTask) -> None:
        task.updated_at = self.clock()
        await self.store.update_task(task)

    async def get_task(self, task_id: str, *, app_id: str | None = None) -> BackgroundTask:
        """The task; with `app_id` (an application's token), only one of that application."""
        task = await self.store.get_task(task_id)
        if app_id is not None and task.app_id != app_id:
            raise NotFound(f"background task {task_id!r} not found")
        return task

    async def list_tasks(self, limit: int | None, iterator: str | None,
                         order: str | None = None, *, status: TaskStatus | None = None,
                         kinds: list[str] | None = None, app_id: str | None = None) -> Page:
        """Newest first unless `order` is ascending."""
        window = window_of(iterator, order, ascending_by_default=False,
                           prefix=ids.BACKGROUND_TASK)
        return await self.store.list_tasks(clamp_limit(limit), window, status=status,
                                           kinds=kinds, app_id=app_id)

    async def wait_for_task(self, task_id: str) -> BackgroundTask:
        """The task once its job, started in this process, has ended."""
        runner = self.running_tasks.jobs.get(task_id)
        if runner is not None:
            await asyncio.wait([runner])
        return await self.store.get_task(task_id)

    async def stop_tasks(self) -> None:
        """Cancel the jobs still running; each is recorded as failed (`STOPPED`)."""
        runners = list(self.running_tasks.jobs.values())
        for runner in runners:
            runner.cancel()
        if runners:
            await asyncio.wait(runners)
