"""Svix's background tasks: a job answers at once as `running`, then its record says how it
ended, readable through `GET /api/v1/background-task[/{task_id}]` in Svix's shapes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hookline.errors import InvalidInput
from hookline.service import TaskProgress
from tests.support.api import ApiServer
from tests.support.polling import wait_until
from tests.support.shared_api import shared_api_fixture

pytestmark = pytest.mark.asyncio(loop_scope="module")
module_database_url, api = shared_api_fixture()


async def _answer(progress: TaskProgress) -> dict[str, Any]:
    return {"answer": 42, "task": progress.id}


async def test_a_finished_task_shows_the_jobs_result_in_svix_shape(api: ApiServer) -> None:
    service = api.runtime.service
    started = await service.start_task("application.stats", _answer)
    assert started.status == "running"

    await service.wait_for_task(started.id)
    got = await api.get(f"/api/v1/background-task/{started.id}")

    assert got.status == 200
    assert got.body == {"id": started.id, "task": "application.stats", "status": "finished",
                        "data": {"answer": 42, "task": started.id},
                        "updatedAt": got.body["updatedAt"]}
    assert started.id.startswith("qtask_")


async def test_a_job_that_raises_leaves_a_failed_task_saying_why(api: ApiServer) -> None:
    async def refuse(progress: TaskProgress) -> dict[str, Any]:
        raise InvalidInput("appIds: none of them exists")

    async def crash(progress: TaskProgress) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    service = api.runtime.service
    refused = await service.start_task("application.stats", refuse)
    crashed = await service.start_task("application.stats", crash)
    await service.wait_for_task(refused.id)
    await service.wait_for_task(crashed.id)

    refused_body = (await api.get(f"/api/v1/background-task/{refused.id}")).body
    crashed_body = (await api.get(f"/api/v1/background-task/{crashed.id}")).body
    assert (refused_body["status"], refused_body["data"]) == (
        "failed", {"error": "appIds: none of them exists"})
    assert crashed_body["status"] == "failed"
    assert "secret detail" not in str(crashed_body)


async def test_a_running_task_shows_the_progress_its_job_reported(api: ApiServer) -> None:
    release = asyncio.Event()

    async def slow(progress: TaskProgress) -> dict[str, Any]:
        await progress.report({"done": 1})
        await release.wait()
        return {"done": 2}

    service = api.runtime.service
    started = await service.start_task("endpoint.replay", slow)

    async def reported() -> Any:
        body = (await api.get(f"/api/v1/background-task/{started.id}")).body
        return body if body["data"] else None

    running = await wait_until(reported, what="the job's progress")
    release.set()
    finished = await service.wait_for_task(started.id)

    assert (running["status"], running["data"]) == ("running", {"done": 1})
    assert (finished.status, finished.data) == ("finished", {"done": 2})


async def test_the_list_pages_both_ways_and_filters_by_status_and_type(api: ApiServer) -> None:
    service = api.runtime.service
    tasks = [await service.start_task("event-type.aggregate", _answer) for _ in range(3)]
    for task in tasks:
        await service.wait_for_task(task.id)
    newest_first = sorted((t.id for t in tasks), reverse=True)  # ids sort by creation
    query = "/api/v1/background-task?task=event-type.aggregate&status=finished&limit=2"

    first = (await api.get(query)).body
    second = (await api.get(f"{query}&iterator={first['iterator']}")).body
    back = (await api.get(f"{query}&iterator={second['prevIterator']}")).body
    oldest = (await api.get(f"{query}&order=ascending")).body
    running = (await api.get("/api/v1/background-task?status=running&task=event-type.aggregate"
                             )).body

    assert [t["id"] for t in first["data"]] == newest_first[:2]
    assert first["done"] is False
    assert [t["id"] for t in second["data"]] == newest_first[2:]
    assert second["done"] is True
    assert [t["id"] for t in back["data"]] == newest_first[:2]
    assert [t["id"] for t in oldest["data"]] == newest_first[::-1][:2]
    assert running["data"] == []


async def test_an_invalid_iterator_or_order_is_a_422(api: ApiServer) -> None:
    bad_iterator = await api.get("/api/v1/background-task?iterator=app_nope")
    bad_order = await api.get("/api/v1/background-task?order=sideways")

    assert bad_iterator.status == 422
    assert bad_iterator.headers["Content-Type"].startswith("application/problem+json")
    assert bad_iterator.body["field"] == "iterator"
    assert bad_order.status == 422


async def test_an_applications_token_sees_only_that_applications_tasks(api: ApiServer) -> None:
    service = api.runtime.service
    mine = await service.create_app("tasks-mine")
    other = await service.create_app("tasks-other")
    _, token = await service.create_app_token(mine.id, "t")
    own = await service.start_task("application.stats", _answer, app_id=mine.id)
    foreign = await service.start_task("application.stats", _answer, app_id=other.id)
    await service.wait_for_task(own.id)
    await service.wait_for_task(foreign.id)

    listed = (await api.get("/api/v1/background-task", token=token)).body
    hidden = await api.get(f"/api/v1/background-task/{foreign.id}", token=token)

    assert [t["id"] for t in listed["data"]] == [own.id]
    assert hidden.status == 404


async def test_an_unknown_task_is_a_404(api: ApiServer) -> None:
    got = await api.get("/api/v1/background-task/qtask_0000000000000000000000000")
    assert got.status == 404
