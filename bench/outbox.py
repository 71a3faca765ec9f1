"""How fast the outbox relay moves events from an application's PostgreSQL into Hookline, and
how long an event waits in the outbox at a steady rate.

    make bench-outbox            # or: python bench/outbox.py --drain 20000 --steady 5000 ...

Three phases against `hookline serve --no-worker` on PostgreSQL (publishing is what is
measured, not delivery) and one relay process, each database made for the run, once for each
path (`--paths http,direct`): `http` is `hookline relay --to` (the batch route of `serve`),
`direct` is `hookline relay` into Hookline's own database (the service layer's batch publish in
the relay's process, no HTTP):
  drain   N events already in the outbox: events/s until it is empty (batch publish);
  steady  the application writes at R events/s (10 per transaction) while the relay runs:
          what rate it reached and whether the relay kept up;
  lag     the application writes at L events/s, one per transaction: the time from each
          commit to Hookline storing its message, p50/p99/max.

`--profile DIR` samples the relay with py-spy during the drain (collapsed stacks in DIR).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import (
    ADMIN_TOKEN,
    Children,
    cpu_seconds,
    free_port,
    hookline_env,
    http_json,
    scratch_database,
    start_serve,
)

from hookline import outbox
from hookline.relay import outbox_backlog

APP = "bench"


async def prefill(url: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, count, 1000):
            async with conn.transaction():
                for n in range(start, min(start + 1000, count)):
                    await outbox.publish(conn, APP, "bench.drain", {"n": n},
                                         ordering_key=f"k{n % 50}")
    finally:
        await conn.close()


async def write_steadily(url: str, rate: float, seconds: float, per_tx: int,
                         event_type: str) -> int:
    """Write at `rate` events/s for `seconds`; each payload holds the commit-side time."""
    conn = await asyncpg.connect(url)
    written, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            async with conn.transaction():
                for _ in range(per_tx):
                    await outbox.publish(conn, APP, event_type, {"t": time.time()},
                                         ordering_key=f"k{written % 50}")
                    written += 1
            pause = start + written / rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
    finally:
        await conn.close()
    return written


async def drained(url: str, timeout: float) -> float:
    """Seconds until the outbox is empty (one connection, asked every 20 ms)."""
    start = time.monotonic()
    conn = await asyncpg.connect(url)
    try:
        while await conn.fetchval(f"SELECT count(*) FROM {outbox.TABLE}"):
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"the outbox still holds rows after {timeout:g} s")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return time.monotonic() - start


async def lags(hookline_db: str, event_type: str) -> list[float]:
    conn = await asyncpg.connect(hookline_db)
    try:
        rows = await conn.fetch("SELECT payload, created_at FROM messages "
                                "WHERE event_type = $1", event_type)
    finally:
        await conn.close()
    return sorted(r["created_at"] - json.loads(r["payload"])["t"] for r in rows)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


PATHS = ("http", "direct")


def relay_argv(path: str, app_db: str, base: str) -> list[str]:
    """The relay's command line: over the batch route, or straight into Hookline's database
    (HOOKLINE_DATABASE_URL of its environment)."""
    argv = [sys.executable, "-m", "hookline.cli", "relay", "--source", app_db]
    return [*argv, "--to", base] if path == "http" else argv


def run(args: argparse.Namespace, path: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-outbox-{path}-"))
    results: dict[str, Any] = {"path": path}
    with Children(work) as children, \
            scratch_database("postgres", args.postgres_url, work) as hookline_db, \
            scratch_database("postgres", args.postgres_url, work) as app_db:
        port = free_port()
        start_serve(children, hookline_db, work, port, worker=False)
        base = f"http://127.0.0.1:{port}"
        http_json("POST", f"{base}/api/v1/app", {"name": "Bench", "uid": APP}, ADMIN_TOKEN)
        http_json("POST", f"{base}/api/v1/app/{APP}/endpoint",
                  {"url": "http://127.0.0.1:9/never-sent"}, ADMIN_TOKEN)
        asyncio.run(_create(app_db))

        asyncio.run(prefill(app_db, args.drain))
        relay_env = hookline_env(hookline_db, work, HOOKLINE_RELAY_TOKEN=ADMIN_TOKEN,
                                 HOOKLINE_OUTBOX_POLL_INTERVAL="1")
        relay = children.start("relay", relay_argv(path, app_db, base), relay_env)
        relay.wait_for_output("hookline relay moving", timeout=60)
        pids = {"relay": [relay.pid], "serve": [c.pid for c in children.children
                                                 if c.name == "serve"]}
        cpu_before = {name: cpu_seconds(p) for name, p in pids.items()}
        profiler = _profile(args.profile, path, relay.pid)
        seconds = asyncio.run(drained(app_db, 600))
        cpu = {name: round(cpu_seconds(p) - cpu_before[name], 2) for name, p in pids.items()}
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on ^C
            profiler.wait(timeout=60)
        results["drain"] = {"events": args.drain, "seconds": round(seconds, 2),
                            "events_per_s": round(args.drain / seconds), "cpu_seconds": cpu}
        print(f"{path} drain: {args.drain} events in {seconds:.2f} s = "
              f"{args.drain / seconds:,.0f} events/s; CPU s {cpu}", flush=True)

        async def steady() -> dict[str, Any]:
            start = time.monotonic()
            written = await write_steadily(app_db, args.steady, args.seconds, 10,
                                           "bench.steady")
            wrote_for = time.monotonic() - start
            behind = (await outbox_backlog(app_db)).pending
            tail = await drained(app_db, 600)
            return {"target_per_s": args.steady, "written": written,
                    "written_per_s": round(written / wrote_for),
                    "backlog_when_writing_stopped": behind, "drained_after_s": round(tail, 2),
                    "relayed_per_s": round(written / (wrote_for + tail))}

        results["steady"] = asyncio.run(steady())
        print(f"{path} steady: {results['steady']}", flush=True)

        async def lag() -> dict[str, Any]:
            written = await write_steadily(app_db, args.lag_rate, args.seconds, 1, "bench.lag")
            await drained(app_db, 60)
            found = await lags(hookline_db, "bench.lag")
            ms = [v * 1000 for v in found]
            return {"rate_per_s": args.lag_rate, "events": written, "measured": len(ms),
                    "p50_ms": round(statistics.median(ms), 1),
                    "p99_ms": round(percentile(ms, 0.99), 1), "max_ms": round(ms[-1], 1)}

        results["lag"] = asyncio.run(lag())
        print(f"{path} lag: {results['lag']}", flush=True)
    results["load_average"] = os.getloadavg()
    return results


def _profile(directory: Path | None, path: str, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy recording `pid` until interrupted (it writes its file then), or nothing."""
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(py_spy), "record", "--pid", str(pid), "--rate", "200",
                             "--format", "raw", "--output", str(directory / f"relay-{path}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


async def _create(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await outbox.create_table(conn)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--drain", type=int, default=20000, help="events prefilled")
    parser.add_argument("--steady", type=float, default=5000, help="events/s written")
    parser.add_argument("--lag-rate", type=float, default=500, help="events/s for the lag")
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--paths", default=",".join(PATHS),
                        help="relay paths to measure, of: http (batch route), direct")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy the relay during each drain, stacks into this folder")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown paths {sorted(unknown)}; choose among {', '.join(PATHS)}")
    results = {path: run(args, path) for path in paths}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
