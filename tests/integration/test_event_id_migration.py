"""Migration 0025 makes an eventId name one message of its application: a database from
before, where a second publish with the same eventId made a second message, still migrates."""

from __future__ import annotations

import pytest

from hookline.config import Settings
from hookline.errors import Conflict
from hookline.runtime import Runtime
from tests.support.migrations import without_migration


async def test_a_database_with_repeated_event_ids_migrates(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with without_migration(monkeypatch, "0025"):
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            app = await runtime.service.create_app("before")
            async with runtime.store.db.transaction() as tx:  # type: ignore[attr-defined]
                for n, event_id in enumerate(["evt-1", "evt-1", "evt-2", "evt-1"]):
                    await tx.execute(
                        "INSERT INTO messages (id, app_id, event_type, payload, event_id, "
                        "created_at) VALUES ($1, $2, 'a.b', '{}', $3, $4)",
                        f"msg_{n}", app.id, event_id, 1000.0 + n)
        finally:
            await runtime.stop()
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        service = runtime.service
        kept = {n: (await service.get_message(app.id, f"msg_{n}")).event_id for n in range(4)}
        assert kept == {0: "evt-1", 1: None, 2: "evt-2", 3: None}
        assert (await service.get_message(app.id, "evt-1")).id == "msg_0"
        with pytest.raises(Conflict):
            await service.publish(app.id, event_type="a.b", payload={}, event_id="evt-2")
    finally:
        await runtime.stop()
