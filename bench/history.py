"""History at scale on PostgreSQL: how the dashboard reads and the purge fare with history.

Builds one endpoint's history of delivered messages (one attempt each, 10 % failed, spread over
the last 28 days) with `generate_series`, straight in SQL, then times the reads the stats API
and the portal make (median of 5), and finally a purge of all of it under a short retention.

    .venv/bin/python bench/history.py --sizes 10000,1000000

Not measured here (yet): the purge's effect on delivery p99 under load, and the database
size under a steady load with a short retention (see bench/RESULTS.md, "History").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from processes import scratch_database

from hookline.config import Settings
from hookline.retention import Purger
from hookline.runtime import Runtime

SPREAD = 28 * 86_400.0
READS = 5
CHUNK = 200_000  # rows per INSERT ... generate_series


async def _build(url: str, app_id: str, endpoint_id: str, total: int, now: float) -> None:
    """Rows start..stop-1 of a history of `total`, newest first; the triggers keep
    `attempt_rollups`; deliveries are inserted already finished, so their rollup is built
    the way migration 0014 builds it for an existing database."""
    import asyncpg

    step = SPREAD / total
    statements = [
        "INSERT INTO messages (id, app_id, event_type, payload, created_at) "
        "SELECT 'msg_h' || g, $1, 'order.created', '{\"orderId\": 1, \"total\": 12.5}', "
        "$5 - g * $6 FROM generate_series($3::int, $4::int) g WHERE $2::text IS NOT NULL",
        "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, attempt_count, "
        "created_at, last_attempt_at) SELECT 'dlv_h' || g, 'msg_h' || g, $2, $1, "
        "CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 1, $5 - g * $6, "
        "$5 - g * $6 FROM generate_series($3::int, $4::int) g",
        "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
        "created_at, succeeded, trigger, status_code, response_body, duration_ms, "
        "request_headers, attempt_number) SELECT 'atmpt_h' || g, 'dlv_h' || g, 'msg_h' || g, "
        "$2, $1, 'https://example.com/hook', $5 - g * $6, g % 10 <> 0, 'scheduled', "
        "CASE WHEN g % 10 = 0 THEN 500 ELSE 200 END, 'ok', 12, '{\"content-type\": "
        "\"application/json\"}', 1 FROM generate_series($3::int, $4::int) g",
    ]
    # A connection of its own: no command timeout for statements over millions of rows.
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE attempts, deliveries, messages, attempt_rollups, "
                           "delivery_rollups")
        for start in range(0, total, CHUNK):
            args = (app_id, endpoint_id, start, min(start + CHUNK, total) - 1, now, step)
            for sql in statements:
                await conn.execute(sql, *args)
        await conn.execute(
            "INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) "
            "SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, MIN(app_id), "
            "COUNT(*) FILTER (WHERE status = 'succeeded'), "
            "COUNT(*) FILTER (WHERE status = 'failed') FROM deliveries "
            "WHERE endpoint_id = $1 AND status IN ('succeeded', 'failed') GROUP BY 1, 2",
            endpoint_id)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _median_ms(read: Any) -> float:
    times = []
    for _ in range(READS):
        started = time.perf_counter()
        await read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _size_mb(runtime: Runtime) -> float:
    async with runtime.store.db.connection() as conn:  # type: ignore[attr-defined]
        row = await conn.fetchrow("SELECT pg_database_size(current_database()) AS b")
    return float(row["b"]) / 1e6


async def run(url: str, sizes: list[int], data_dir: Path) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, data_dir=data_dir, secret_key="bench",
                        admin_token="bench")
    runtime = await Runtime.start(settings, with_worker=False)
    rows: list[dict[str, Any]] = []
    try:
        svc = runtime.service
        app = await svc.create_app("history")
        ep = await svc.create_endpoint(app.id, url="https://example.com/hook")
        now, built = time.time(), 0
        for size in sizes:
            started = time.perf_counter()
            # Rebuilt from scratch at each size, so the history is spread over 28 days.
            await _build(url, app.id, ep.id, size, now)
            built = size
            build_s = time.perf_counter() - started
            row = {
                "history": size, "build_s": round(build_s, 1),
                "stats_ms": await _median_ms(lambda: svc.endpoint_stats(app.id, ep.id)),
                "chart_ms": await _median_ms(lambda: svc.endpoint_hourly(app.id, ep.id, 168)),
                "logs_ms": await _median_ms(lambda: svc.list_attempts(app.id, 50, None,
                                                                      endpoint_id=ep.id)),
                "size_mb": round(await _size_mb(runtime), 1),
            }
            rows.append(row)
            print(row, flush=True)
        # Everything expires: purge it all under a short retention, and time it.
        short = settings.with_(retention_days=0.0, payload_retention_days=0.0,
                               purge_batch_size=2000)
        purger = Purger(runtime.store, short)
        started, batches = time.perf_counter(), 0
        deleted = 0
        while True:
            counts = await purger.run_once(max_seconds=60)
            batches += 1
            if counts is None or counts.total == 0:
                break
            deleted += counts.messages_deleted
        purge_s = time.perf_counter() - started
        print({"purged_messages": deleted, "of": built, "purge_s": round(purge_s, 1),
               "messages_per_s": round(deleted / purge_s), "size_after_mb":
               round(await _size_mb(runtime), 1)}, flush=True)
    finally:
        await runtime.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="history sizes (attempts), comma-separated")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as work, \
            scratch_database("postgres", args.postgres_url, Path(work)) as url:
        asyncio.run(run(url, sizes, Path(work)))


if __name__ == "__main__":
    main()
