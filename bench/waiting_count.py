"""How long a disabled endpoint's waitingCount takes as what it missed grows: the database's
`COUNT` (store.count_missed, what GET of an endpoint and the portal run) against reading
every missed message into the server and counting there (the replay's dry run, which the
count used before).

    .venv/bin/python bench/waiting_count.py sqlite:///tmp/wc.db [missed ...]
    .venv/bin/python bench/waiting_count.py postgresql://postgres@127.0.0.1:5432/test 1000 20000

Publishes with no worker running (nothing is delivered), so every message is missed. Use a
database of its own on PostgreSQL (it migrates the public schema).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from hookline.config import Settings
from hookline.models import Endpoint
from hookline.runtime import Runtime
from hookline.service.core import endpoint_wants
from hookline.service.messages import MessageDraft
from hookline.store.base import ReplayWindow

BATCH = 100
RUNS = 5


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    """The best of RUNS, in milliseconds."""
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def both_ways(runtime: Runtime, ep: Endpoint, since: float, size: int) -> str:
    """One row: the database's count, then reading and counting in the server."""
    store, clock = runtime.store, runtime.service.clock
    async with store.db.connection() as conn:  # type: ignore[attr-defined]
        await conn.execute("ANALYZE")  # as autovacuum would, after a big load
    wanting = replace(ep, disabled=False)
    window = ReplayWindow(since, None, lambda m: endpoint_wants(wanting, m),
                          include_pending=True)

    async def in_sql() -> None:
        assert await store.count_missed(ep, since, ["a.*"], None) == size

    async def in_python() -> None:
        assert (await store.replay_missed(ep, window, clock(), dry_run=True)).count == size

    return f"{size:>8} {await timed(in_sql):>13.1f} {await timed(in_python):>18.1f}"


async def measure(url: str, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=url, data_dir=Path(tmp), secret_key="bench",
                            admin_token="bench")
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            service = runtime.service
            app = await service.create_app("bench")
            ep = await service.create_endpoint(app.id, url="https://partner.example/hook",
                                               filter_types=["a.*"])
            since, published = service.clock() - 1, 0
            print(f"{'missed':>8} {'SQL COUNT ms':>13} {'read and count ms':>18}")
            for size in sizes:
                while published < size:
                    await service.publish_batch(app.id, [
                        MessageDraft("a.b", {"n": n, "pad": "x" * 200})
                        for n in range(min(BATCH, size - published))])
                    published = min(size, published + BATCH)
                print(await both_ways(runtime, ep, since, size))
        finally:
            await runtime.stop()


if __name__ == "__main__":
    sizes = [int(n) for n in sys.argv[2:]] or [1000, 10000]
    asyncio.run(measure(sys.argv[1], sizes))
