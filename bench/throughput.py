"""End-to-end throughput and latency of a real `hookline serve`, driven over HTTP.

Everything runs as its own process, as a user would run it: `hookline serve` (and `hookline
worker`s), load generators publishing through `POST /api/v1/app/{app}/msg` (`loadgen.py`),
and an aiohttp receiver that verifies every signature and times each arrival
(`receiver.py`). In the same run, for ratios: the raw ceiling (signed aiohttp POSTs straight
to the receiver, nothing stored, at the start and at the end) and a Celery + Redis baseline.

Modes, per database (SQLite and PostgreSQL, each configuration on a scratch database):
  closed   N publishes in flight (default 16), serve with its worker (+ --extra-workers)
  open     a constant offered rate (default 500 msg/s for 20 s), serve with its worker
  publish  publishing alone: `serve --no-worker`, single-message requests
  batch    `POST .../msg/batch`, 100 messages a request, on the same server ("not
           available" when the route answers 404/405)
  drain    the backlog left by publish and batch, emptied by one `hookline worker`

    .venv/bin/python bench/throughput.py                     # everything (make bench)
    .venv/bin/python bench/throughput.py --database postgres --modes closed,open
    make bench BENCH_ARGS="--modes publish,batch,drain --no-celery"
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import loadgen
from harness import Harness, Phase
from processes import (
    HERE,
    BenchError,
    Children,
    free_port,
    scratch_database,
    start_serve,
    start_worker,
)
from report import Row, draw_chart, latency_ms, markdown_table, text_table, write_json
from tqdm import tqdm

MODES = ("closed", "open", "publish", "batch", "drain")


class Bench(Harness):
    """The configurations `make bench` measures, one `Row` each."""

    def __init__(self, args: argparse.Namespace, children: Children, work_dir: Path) -> None:
        super().__init__(args, children, work_dir)
        self.rows: list[Row] = []

    def ceiling(self, when: str) -> Row:
        args = self.args
        self.reset_receiver()
        specs = self.publish_specs("raw", self.receiver, args.messages, args.ceiling_in_flight,
                                   args.timeout)
        phase = self.drive(specs, f"raw ceiling ({when})", 0, args.timeout)
        got = phase.received
        seconds = max(got["last"] - phase.generated["first_send"], 1e-9)
        return Row(label=f"raw aiohttp → receiver ({when})", database="-", mode="ceiling",
                   deliveries=got["count"], expected=args.messages * args.endpoints,
                   seconds=seconds, deliveries_per_s=got["count"] / seconds,
                   duplicates=got["duplicates"], bad_signatures=got["bad_signatures"],
                   failed_requests=phase.failed_requests(),
                   note=f"{args.ceiling_in_flight} requests in flight, signed, nothing stored"
                   if when == "start" else "")

    def celery(self) -> Row:
        args = self.args
        label = f"Celery + Redis (prefork {args.celery_concurrency}, late acks)"
        try:
            import redis as redis_lib
            from celery_baseline import BROKER, QUEUE, deliver
        except ImportError as exc:
            return Row(label=label, database="-", mode="celery",
                       note=f"not available: {exc}")
        broker = redis_lib.Redis.from_url(BROKER)
        broker.delete(QUEUE)
        env = {**os.environ, "BENCH_SECRET": self.secret}
        worker = self.children.start("celery", [
            sys.executable, "-m", "celery", "-A", "celery_baseline", "worker", "--loglevel",
            "WARNING", "--concurrency", str(args.celery_concurrency), "--pool", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE],
            env=env, cwd=HERE)
        try:
            self.reset_receiver()
            deliver.delay(f"{self.receiver}/warmup", '{"data": {}}', "celery_warmup")
            if not self.wait_for_deliveries(1, "celery start", 60):
                raise BenchError(f"the Celery worker did not start:\n{worker.output()}")
            self.reset_receiver()
            expected = args.messages * args.endpoints
            enqueued: dict[str, float] = {}

            stop_enqueueing = threading.Event()

            def enqueue() -> None:
                enqueued["first"] = time.time()
                for n in range(args.messages):
                    if stop_enqueueing.is_set():
                        break
                    body = json.dumps(
                        {"type": loadgen.EVENT_TYPE, "data": {"n": n, "sentAt": time.time()}})
                    for k in range(args.endpoints):
                        deliver.delay(f"{self.receiver}/ep{k}", body, f"celery_{n}")
                    enqueued["count"] = n + 1
                enqueued["last"] = time.time()

            thread = threading.Thread(target=enqueue, daemon=True)
            thread.start()
            done = self.wait_for_deliveries(expected, "celery", args.timeout)
            stop_enqueueing.set()
            thread.join(10)
        finally:
            worker.stop()
            broker.delete(QUEUE)
        got = self.received()
        seconds = max(got["last"] - enqueued["first"], 1e-9)
        p50, p90, p99 = latency_ms(got["latencies"])
        return Row(label=label, database="-", mode="celery", deliveries=got["count"],
                   expected=expected, seconds=seconds, deliveries_per_s=got["count"] / seconds,
                   publish_per_s=enqueued.get("count", 0) / max(
                       enqueued.get("last", time.time()) - enqueued["first"], 1e-9),
                   p50_ms=p50, p90_ms=p90, p99_ms=p99, duplicates=got["duplicates"],
                   bad_signatures=got["bad_signatures"],
                   note="" if done else "timed out before every delivery arrived")

    def end_to_end(self, database: str, mode: str, extra_workers: int = 0,
                   broken: bool = False) -> Row:
        args = self.args
        with scratch_database(database, args.postgres_url, self.work_dir) as url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            data_dir = self.work_dir
            serve = start_serve(self.children, url, data_dir, port,
                                worker_processes=args.worker_processes,
                                api_processes=args.api_processes, env=args.settings)
            workers = [start_worker(self.children, url, data_dir, name="worker",
                                    env=args.settings)
                       for _ in range(extra_workers)]
            try:
                publish_url = f"{base}/api/v1/app/{self.create_app(base, broken)}/msg"
                self.reset_receiver()
                if mode == "open":
                    total = int(args.rate * args.duration)
                    specs = self.publish_specs("open", publish_url, total, args.open_cap,
                                               args.duration + 1)
                    label = f"{database} open loop {args.rate:g} msg/s for {args.duration:g} s"
                    note = f"offered {args.rate:g} msg/s"
                else:
                    specs = self.publish_specs("closed", publish_url, args.messages,
                                               args.in_flight, args.timeout)
                    label = f"{database} closed loop, {args.in_flight} in flight"
                    if extra_workers:
                        label += f", serve + {extra_workers} worker"
                    note = ""
                if broken:
                    label += " + broken " + ",".join(f"{n}x{k}" for n, k in args.broken)
                    note = "healthy deliveries only"
                phase = self.drive(specs, label, args.endpoints, args.timeout)
            finally:
                for child in [*workers, serve]:
                    child.stop()
        return self._delivered_row(label, database, mode, phase, note)

    def _delivered_row(self, label: str, database: str, mode: str, phase: Phase,
                       note: str) -> Row:
        gen, got = phase.generated, phase.received
        start = gen["first_send"] or time.time()
        seconds = max((got["last"] or start) - start, 1e-9)
        p50, p90, p99 = latency_ms(got["latencies"])
        a50, _, a99 = latency_ms(gen["answer_latencies"])
        publish_seconds = max(gen["last_answer"] - start, 1e-9)
        notes = [note] if note else []
        if phase.timed_out:
            notes.append("timed out before every delivery arrived")
        if gen["skipped"]:
            notes.append(f"{gen['skipped']} sends skipped at the in-flight cap")
        return Row(label=label, database=database, mode=mode, deliveries=got["count"],
                   expected=phase.accepted * self.args.endpoints, seconds=seconds,
                   deliveries_per_s=got["count"] / seconds,
                   publish_per_s=phase.accepted / publish_seconds, p50_ms=p50, p90_ms=p90,
                   p99_ms=p99, answer_p50_ms=a50, answer_p99_ms=a99,
                   duplicates=got["duplicates"], bad_signatures=got["bad_signatures"],
                   failed_requests=phase.failed_requests(), skipped=gen["skipped"],
                   note="; ".join(notes), extra={"statuses": gen["statuses"]})

    def publish_batch_drain(self, database: str, modes: set[str]) -> list[Row]:
        """Publishing alone (single, then batch) on `serve --no-worker`; then one worker
        empties what they left."""
        args = self.args
        rows: list[Row] = []
        with scratch_database(database, args.postgres_url, self.work_dir) as url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            serve = start_serve(self.children, url, self.work_dir, port, worker=False,
                                api_processes=args.api_processes, env=args.settings)
            backlog = 0
            try:
                app_url = f"{base}/api/v1/app/{self.create_app(base)}/msg"
                if "publish" in modes or "drain" in modes:
                    phase = self.drive(self.publish_specs("closed", app_url, args.messages,
                                                          args.in_flight, args.timeout),
                                       f"{database} publish only", 0, args.timeout)
                    backlog += phase.accepted
                    rows.append(self._publish_row(
                        f"{database} publish only, {args.in_flight} in flight, no worker",
                        database, "publish", phase))
                if "batch" in modes:
                    phase = self.drive(self.publish_specs("batch", app_url + "/batch",
                                                          args.batch_messages,
                                                          args.batch_in_flight, args.timeout,
                                                          first=args.messages),
                                       f"{database} batch publish", 0, args.timeout)
                    backlog += phase.accepted
                    rows.append(self._publish_row(
                        f"{database} batch publish, {args.batch_size}/request, "
                        f"{args.batch_in_flight} in flight", database, "batch", phase))
            finally:
                serve.stop()
            if "drain" in modes and backlog:
                rows.append(self.drain(database, url, backlog * args.endpoints))
        return [r for r in rows if r.mode in modes]

    def _publish_row(self, label: str, database: str, mode: str, phase: Phase) -> Row:
        gen = phase.generated
        if gen["unavailable"]:
            return Row(label=label, database=database, mode=mode,
                       note="not available: the route answered 404/405")
        a50, _, a99 = latency_ms(gen["answer_latencies"])
        seconds = max(gen["last_answer"] - gen["first_send"], 1e-9)
        return Row(label=label, database=database, mode=mode, seconds=seconds,
                   publish_per_s=phase.accepted / seconds, answer_p50_ms=a50,
                   answer_p99_ms=a99, failed_requests=phase.failed_requests(),
                   note="" if not phase.timed_out else "timed out",
                   extra={"statuses": gen["statuses"], "accepted": phase.accepted})

    def drain(self, database: str, url: str, expected: int) -> Row:
        self.reset_receiver()
        worker = start_worker(self.children, url, self.work_dir, env=self.args.settings)
        started = time.time()
        try:
            done = self.wait_for_deliveries(expected, f"{database} drain", self.args.timeout)
        finally:
            worker.stop()
        got = self.received()
        seconds = max(got["last"] - started, 1e-9)
        return Row(label=f"{database} drain: 1 worker, {expected:,} backlog", database=database,
                   mode="drain", deliveries=got["count"], expected=expected, seconds=seconds,
                   deliveries_per_s=got["count"] / seconds, duplicates=got["duplicates"],
                   bad_signatures=got["bad_signatures"],
                   note=("" if done else "timed out; ") + "latency is time queued, not shown")

    def record(self, *rows: Row) -> None:
        for row in rows:
            row.load_average = os.getloadavg()[0]  # the machine is shared: say how busy it was
            figures = ((name, value) for name, value in (
                ("deliveries/s", row.deliveries_per_s), ("publish/s", row.publish_per_s),
                ("p99 ms", row.p99_ms)) if value is not None)
            tqdm.write(f"{row.label}: " + ", ".join(f"{n} {v:,.0f}" for n, v in figures)
                       + (f" ({row.note})" if row.note else ""))
            self.rows.append(row)

    def run(self) -> list[Row]:
        args = self.args
        self.record(self.ceiling("start"))
        if args.celery:
            self.record(self.celery())
        for database in args.databases:
            if "closed" in args.modes:
                self.record(self.end_to_end(database, "closed"))
                if args.extra_workers:
                    self.record(self.end_to_end(database, "closed", args.extra_workers))
                if args.broken:
                    self.record(self.end_to_end(database, "closed", broken=True))
            if "open" in args.modes:
                self.record(self.end_to_end(database, "open"))
            if args.modes & {"publish", "batch", "drain"}:
                self.record(*self.publish_batch_drain(database, args.modes))
        self.record(self.ceiling("end"))
        return self.rows

def metadata(args: argparse.Namespace, load_before: tuple[float, ...]) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/throughput.py", *sys.argv[1:]]),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "messages": args.messages, "endpoints": args.endpoints, "in_flight": args.in_flight,
    }


def _broken(text: str) -> list[tuple[int, str]]:
    """`3x500,1xhang` -> [(3, "500"), (1, "hang")]."""
    partners = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        count, _, kind = part.partition("x")
        if not count.isdigit() or kind not in ("500", "hang"):
            raise argparse.ArgumentTypeError(f"{part!r}: write NxKIND, KIND 500 or hang")
        partners.append((int(count), kind))
    return partners


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--database", choices=["sqlite", "postgres", "both"], default="both")
    add("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    add("--messages", type=int, default=5000, help="messages per closed-loop/publish run")
    add("--endpoints", type=int, default=3)
    add("--in-flight", type=int, default=16, help="publish requests in flight (closed loop)")
    add("--generators", type=int, default=2, help="load-generator processes")
    add("--rate", type=float, default=500.0, help="open loop: offered messages/s")
    add("--duration", type=float, default=20.0, help="open loop: seconds of offered load")
    add("--open-cap", type=int, default=512,
        help="open loop: requests outstanding at most (beyond: skipped, counted)")
    add("--batch-messages", type=int, default=12000)
    add("--batch-size", type=int, default=100)
    add("--batch-in-flight", type=int, default=4)
    add("--extra-workers", type=int, default=1,
        help="closed loop once more with this many `hookline worker`s beside serve (0: skip)")
    add("--worker-processes", type=int, default=None,
        help="closed and open loops: `serve --worker-processes N` (0: its worker in-process; "
             "default: serve's own choice)")
    add("--api-processes", type=int, default=None,
        help="every serve: `serve --api-processes N` (default: serve's own choice)")
    add("--broken", default="", type=_broken,
        help="closed loop once more beside broken partners, e.g. 3x500,1xhang (500: answers "
             "500 at once; hang: never answers in time); only healthy deliveries count")
    add("--setting", dest="settings", action="append", type=_setting, default=[],
        metavar="HOOKLINE_NAME=VALUE",
        help="a setting for every Hookline process (repeatable), e.g. "
             "HOOKLINE_ENDPOINT_CONCURRENCY=64; the bench's own environment is not passed on")
    add("--ceiling-in-flight", type=int, default=64)
    add("--celery", action=argparse.BooleanOptionalAction, default=True,
        help="time the Celery + Redis baseline (default on)")
    add("--celery-concurrency", type=int, default=8)
    add("--timeout", type=float, default=180.0, help="seconds any one phase may take")
    add("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="an existing database; each run creates and drops its own beside it")
    add("--chart", type=Path, default=HERE / "throughput.png")
    add("--json", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    args.settings = dict(args.settings)
    args.databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    args.modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    unknown = args.modes - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    return args


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("HOOKLINE_"):
        raise argparse.ArgumentTypeError(f"expected HOOKLINE_NAME=VALUE, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hookline-bench-") as tmp, \
            Children(Path(tmp)) as children:
        try:
            rows = Bench(args, children, Path(tmp)).run()
        except KeyboardInterrupt:
            print("\ninterrupted; every process stopped", file=sys.stderr)
            return 130
        except (BenchError, OSError) as exc:  # OSError: a child died under us (Ctrl-C)
            print(f"\nbenchmark failed: {exc}; every process stopped", file=sys.stderr)
            return 1
    meta = metadata(args, load_before)
    print(f"\n{args.messages} messages x {args.endpoints} endpoints, {os.cpu_count()} cores, "
          f"load average {load_before[0]:.1f} before, {meta['load_average_after'][0]:.1f} after\n")
    print(text_table(rows))
    print("\n" + markdown_table(rows))
    draw_chart(args.chart, rows, f"Hookline over HTTP, {args.endpoints} endpoints, "
               f"{os.cpu_count()} cores, {meta['date']}")
    print(f"\nchart: {args.chart}")
    if args.json:
        write_json(args.json, meta, rows)
        print(f"figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
