"""Wake-ups stay within their schema: NOTIFY reaches the whole PostgreSQL database, so two
Hookline installations sharing one (each in its own schema) must not wake each other's
workers."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from hookline.runtime import Runtime
from tests.support.api import make_settings


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_publish_wakes_its_own_schemas_workers_and_no_others(
        runtime: Runtime, postgres_url: str, tmp_path: Path) -> None:
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    other = await Runtime.start(
        make_settings(f"{postgres_url}?search_path={schema}", tmp_path / "other"),
        with_worker=False)
    woken: dict[str, int] = {"own": 0, "other": 0}

    def counter(name: str) -> object:
        return lambda: woken.__setitem__(name, woken[name] + 1)

    stops = [await runtime.store.listen(counter("own")),  # type: ignore[arg-type]
             await other.store.listen(counter("other"))]  # type: ignore[arg-type]
    try:
        app = await runtime.service.create_app("Waking")
        await runtime.service.create_endpoint(app.id, url="http://127.0.0.1:9/hook")
        await runtime.service.publish(app.id, "a.b", {})
        for _ in range(500):
            if woken["own"]:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # time for a stray wake-up to arrive too
    finally:
        for stop in stops:
            await stop()
        await other.stop()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    assert woken["own"] >= 1
    assert woken["other"] == 0
