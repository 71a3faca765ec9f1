"""Delivery throughput: publish N messages to K endpoints on a loopback receiver.

Reports deliveries/s and p50/p99 publish→delivery latency on SQLite and PostgreSQL, beside the
raw ceiling measured in the same run (aiohttp POSTing straight to the same receiver, at the same
concurrency). The receiver runs in its own process; Hookline runs as `hookline serve` would
(API-side service and worker in one process).

    .venv/bin/python bench/throughput.py --messages 5000 --endpoints 3
    .venv/bin/python bench/throughput.py --database postgres \
        --postgres-url postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from tqdm import tqdm

from hookline.config import Settings
from hookline.delivery.worker import DeliveryWorker
from hookline.runtime import Runtime

HERE = Path(__file__).parent


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReceiverProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), str(self.port)])
        self.base = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        for _ in range(200):
            try:
                async with session.get(self.base + "/_stats") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise RuntimeError("receiver did not start")

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.base + "/_stats") as resp:
            return dict(await resp.json())

    async def reset(self, session: aiohttp.ClientSession) -> None:
        async with session.post(self.base + "/_reset") as resp:
            await resp.read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def raw_ceiling(session_factory: Any, url: str, total: int, concurrency: int) -> float:
    """Requests/s of plain aiohttp POSTs to the receiver: the most any sender could do here."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    body = json.dumps({"type": "bench", "data": {"n": 0}}).encode()
    queue = iter(range(total))
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> None:
            for n in queue:
                async with session.post(url, data=body,
                                        headers={"webhook-id": f"raw{n}"}) as resp:
                    await resp.read()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


async def run_hookline(database_url: str, receiver: ReceiverProcess, messages: int,
                       endpoints: int, concurrency: int, label: str,
                       drain: bool = False) -> dict[str, Any]:
    """`drain=False`: publish and deliver at once, end to end. `drain=True`: publish a backlog
    first, then time a worker emptying it (the worker's own capacity)."""
    data_dir = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    settings = Settings(database_url=database_url, data_dir=data_dir, secret_key="bench",
                        admin_token="bench", egress_allow=("127.0.0.0/8",),
                        worker_concurrency=concurrency, poll_interval=0.5)
    runtime = await Runtime.start(settings, with_worker=not drain)
    svc = runtime.service
    app = await svc.create_app(f"bench-{uuid.uuid4().hex[:6]}")
    for k in range(endpoints):
        await svc.create_endpoint(app.id, url=f"{receiver.base}/ep{k}")
    expected = messages * endpoints
    published: dict[str, float] = {}

    async with aiohttp.ClientSession() as session:
        await receiver.reset(session)
        started = time.time()
        bar = tqdm(total=expected, desc=f"{label} delivered", unit="dlv", leave=False)
        publishers = 8  # concurrent publish calls, like several API clients
        sequence = iter(range(messages))

        async def publish() -> None:
            for n in sequence:
                t = time.time()
                result = await svc.publish(app.id, "bench.event", {"n": n, "at": t})
                published[result.message.id] = t

        async def watch() -> None:
            while True:
                stats = await receiver.stats(session)
                bar.n = len(stats["arrivals"])
                bar.refresh()
                if bar.n >= expected:
                    return
                await asyncio.sleep(0.25)

        worker_task = None
        if drain:
            await asyncio.gather(*(publish() for _ in range(publishers)))
            publish_done = max(published.values())
            publish_rate = messages / (publish_done - started)
            worker = DeliveryWorker(runtime.store, settings, runtime.transport)
            started = time.time()
            worker_task = asyncio.create_task(worker.run())
            await asyncio.wait_for(watch(), timeout=600)
            worker.stop()
            await worker_task
        else:
            publishing = asyncio.gather(*(publish() for _ in range(publishers)))
            await asyncio.wait_for(asyncio.gather(publishing, watch()), timeout=600)
            publish_done = max(published.values())
            publish_rate = messages / (publish_done - started)
        stats = await receiver.stats(session)
        bar.close()

    arrivals = stats["arrivals"]
    finished = max(arrivals.values())
    latencies = sorted(arrivals[key] - max(published[key.split("/")[0]], started)
                       for key in arrivals)
    await runtime.stop()
    elapsed = finished - started
    return {
        "label": label,
        "deliveries": len(arrivals),
        "duplicates": stats["duplicates"],
        "seconds": elapsed,
        "deliveries_per_s": len(arrivals) / elapsed,
        "publish_per_s": publish_rate,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def run_celery(receiver: ReceiverProcess, messages: int, endpoints: int,
                     concurrency: int) -> dict[str, Any]:
    """The same deliveries through Celery + Redis (prefork workers, late acks)."""
    import redis as redis_lib
    from celery_baseline import BROKER, QUEUE, deliver

    redis_lib.Redis.from_url(BROKER).delete(QUEUE)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_baseline", "worker", "--loglevel",
         "WARNING", "--concurrency", str(concurrency), "--pool", "prefork",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE],
        cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    expected = messages * endpoints
    body = json.dumps({"type": "bench.event", "data": {"n": 0}})
    published: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await receiver.reset(session)
            started = time.time()

            def enqueue() -> None:
                for n in range(messages):
                    msg_id = f"celery{n}"
                    published[msg_id] = time.time()
                    for k in range(endpoints):
                        deliver.delay(f"{receiver.base}/ep{k}", body,
                                      {"webhook-id": msg_id, "content-type": "application/json"})

            bar = tqdm(total=expected, desc="celery delivered", unit="dlv", leave=False)
            enqueuing = asyncio.create_task(asyncio.to_thread(enqueue))
            deadline = time.time() + 600
            while True:
                stats = await receiver.stats(session)
                bar.n = len(stats["arrivals"])
                bar.refresh()
                if bar.n >= expected or time.time() > deadline:
                    break
                await asyncio.sleep(0.25)
            await enqueuing
            bar.close()
            publish_done = max(published.values())
    finally:
        worker.terminate()
        worker.wait(30)
    arrivals = stats["arrivals"]
    finished = max(arrivals.values())
    latencies = sorted(arrivals[key] - published[key.split("/")[0]] for key in arrivals)
    return {
        "label": f"celery+redis x{concurrency}",
        "deliveries": len(arrivals),
        "duplicates": stats["duplicates"],
        "seconds": finished - started,
        "deliveries_per_s": len(arrivals) / (finished - started),
        "publish_per_s": messages / (publish_done - started),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def postgres_schema_url(base: str) -> tuple[str, str]:
    schema = "bench_" + uuid.uuid4().hex[:8]
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()

    asyncio.run(create())
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}search_path={schema}", schema


def drop_schema(base: str, schema: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()

    asyncio.run(drop())


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    receiver = ReceiverProcess()
    results: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as session:
            await receiver.wait_ready(session)
        ceiling = await raw_ceiling(None, receiver.base + "/raw", args.messages * args.endpoints,
                                    args.concurrency)
        results.append({"label": "raw aiohttp ceiling", "deliveries_per_s": ceiling})
        if args.celery:
            results.append(await run_celery(receiver, args.messages, args.endpoints,
                                            args.celery_concurrency))
        for database in args.databases:
            if database == "sqlite":
                for drain in (False, True):
                    path = Path(tempfile.mkdtemp(prefix="hookline-bench-")) / "bench.db"
                    results.append(await run_hookline(
                        f"sqlite:///{path}", receiver, args.messages, args.endpoints,
                        args.concurrency, "sqlite " + ("drain" if drain else "end-to-end"),
                        drain))
            else:
                for drain in (False, True):
                    url, schema = await asyncio.to_thread(postgres_schema_url,
                                                          args.postgres_url)
                    try:
                        results.append(await run_hookline(
                            url, receiver, args.messages, args.endpoints, args.concurrency,
                            "postgres " + ("drain" if drain else "end-to-end"), drain))
                    finally:
                        await asyncio.to_thread(drop_schema, args.postgres_url, schema)
    finally:
        receiver.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--celery", action="store_true",
                        help="also time a Celery + Redis baseline (needs the bench extra)")
    parser.add_argument("--celery-concurrency", type=int, default=8)
    args = parser.parse_args()
    args.databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    try:
        import uvloop

        results = uvloop.run(main_async(args))
    except ImportError:
        results = asyncio.run(main_async(args))
    ceiling = results[0]["deliveries_per_s"]
    baseline = next((r["deliveries_per_s"] for r in results
                     if r["label"].startswith("celery")), None)
    print(f"\n{args.messages} messages x {args.endpoints} endpoints, "
          f"concurrency {args.concurrency}, {os.cpu_count()} cores")
    print(f"{'run':<22}{'deliveries/s':>14}{'of ceiling':>12}{'x celery':>10}{'publish/s':>11}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'dups':>6}")
    for r in results:
        if "p50_ms" not in r:
            print(f"{r['label']:<22}{r['deliveries_per_s']:>14.0f}{'100%':>12}{'-':>10}")
            continue
        times = f"{r['deliveries_per_s'] / baseline:.1f}x" if baseline else "-"
        print(f"{r['label']:<22}{r['deliveries_per_s']:>14.0f}"
              f"{r['deliveries_per_s'] / ceiling:>12.0%}{times:>10}{r['publish_per_s']:>11.0f}"
              f"{r['p50_ms']:>9.0f}{r['p99_ms']:>9.0f}{r['duplicates']:>6}")


if __name__ == "__main__":
    main()
