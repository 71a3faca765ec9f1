"""History at scale on PostgreSQL (issue 18): the four targets, against real processes.

Every figure comes from a real `hookline serve` or `hookline worker` on a scratch database,
driven over loopback HTTP; history and backlogs are written straight in SQL
(`history_data.py`, `generate_series`).

  1  reads: the stats API, the portal's endpoint list, endpoint page and logs page (p50 of
     --reads after two warm-up reads) with 10k, 1M and 10M attempts of one endpoint's
     history; the history grows backwards in time at a steady rate (default: 10M over 28
     days), so each size sees the same recent traffic and more of the past.
  2  bounded size: a steady publish-and-deliver load under a retention of --retention
     seconds; the database size sampled over --periods retention periods.
  3  purge vs delivery: delivery p99 under a steady load, first with 1,000,000 expired rows
     kept (a long retention), then while the workers purge them (retention 90 days, purge
     every second: the purge working flat out).
  4  backlog drain: 10k and 1M deliveries due over 2 endpoints, inserted in SQL, each drained
     by one `hookline worker`; its RSS sampled; the raw ceiling (bench/throughput.py's) in
     the same run.

    make bench-history                                   # all four, full size
    make bench-history BENCH_ARGS="--targets 4"          # one target
    .venv/bin/python bench/history.py --targets 1 --sizes 10000,1000000 --keep
    .venv/bin/python bench/history.py --targets 1 --reuse postgresql://.../bench_xxx
    .venv/bin/python bench/history.py --targets 1 --reuse URL_10K,URL_1M,URL_10M   # in turn

A run prints its figures as they come, a Markdown table at the end, and writes
bench/history.json and the chart bench/history.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import history_data as data
from harness import Phase
from processes import (
    ADMIN_TOKEN,
    HERE,
    BenchError,
    Child,
    Children,
    admin_statement,
    free_port,
    http_json,
    scratch_database,
    start_serve,
    start_worker,
    with_database,
)
from report import latency_ms
from throughput import Bench

DAY = 86_400.0
TARGETS = ("1", "2", "3", "4")
SLOW_READ_MS = 50.0


# -- reading over HTTP ------------------------------------------------------------------------
class Reader:
    """One keep-alive connection to a server, with the portal's session cookie."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.cookie = ""

    def get(self, path: str, token: str | None = None) -> int:
        """GET `path`; a connection the server closed while idle (a build) is opened anew."""
        try:
            return self._get(path, token)
        except (http.client.RemoteDisconnected, ConnectionError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            return self._get(path, token)

    def _get(self, path: str, token: str | None) -> int:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if self.cookie:
            headers["cookie"] = self.cookie
        self.conn.request("GET", path, headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        cookies = [v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        if cookies:
            self.cookie = "; ".join(cookies)
        return resp.status

    def sign_in(self, base: str, app_id: str) -> None:
        """Open a portal link for the application, as a partner's browser would."""
        link = http_json("POST", f"{base}/api/v1/auth/app-portal-access/{app_id}", {},
                         ADMIN_TOKEN)
        self.get(f"/portal/access?token={link['token']}")
        if not self.cookie:
            raise BenchError("the portal link gave no session cookie")

    def timed_ms(self, path: str, token: str | None = None) -> float:
        started = time.perf_counter()
        status = self.get(path, token)
        if status != 200:
            raise BenchError(f"GET {path}: {status}")
        return (time.perf_counter() - started) * 1000


def pages(app_id: str, endpoint_id: str) -> dict[str, tuple[str, str | None]]:
    """What target 1 times: the stats API and the portal's three pages."""
    return {"stats_ms": (f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", ADMIN_TOKEN),
            "list_ms": ("/portal/", None),
            "page_ms": (f"/portal/endpoints/{endpoint_id}", None),
            "logs_ms": (f"/portal/endpoints/{endpoint_id}/logs", None)}


def read_timings(readers: list[tuple[Reader, str, str]], reads: int) -> list[dict[str, float]]:
    """p50 of `reads` (after two warm-up rounds) of each page on each server, in rounds that
    visit every server in turn: sizes compared under the same load of a shared machine."""
    times: list[dict[str, list[float]]] = [{} for _ in readers]
    for n in range(reads + 2):
        for (reader, app_id, endpoint_id), got in zip(readers, times, strict=True):
            for key, (path, token) in pages(app_id, endpoint_id).items():
                elapsed = reader.timed_ms(path, token)
                if n >= 2:
                    got.setdefault(key, []).append(elapsed)
    return [{k: statistics.median(v) for k, v in got.items()} for got in times]


def database_mb(url: str) -> float:
    return float(asyncio.run(data.scalar(url, "SELECT pg_database_size(current_database())"))
                 ) / 1e6


def history_mb(url: str) -> float:
    """The history tables with their indexes and TOAST: what retention must keep bounded."""
    sql = ("SELECT SUM(pg_total_relation_size(c)) FROM unnest($1::regclass[]) c")
    return float(asyncio.run(data.scalar(url, sql, list(data.HISTORY_TABLES)))) / 1e6


def live_and_dead_messages(url: str) -> tuple[int, int]:
    """Rows of `messages` PostgreSQL's statistics count live and dead (not yet vacuumed)."""
    async def read() -> tuple[int, int]:
        conn = await data.connect(url)
        try:
            row = await conn.fetchrow("SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables "
                                      "WHERE relname = 'messages'")
        finally:
            await conn.close()
        return int(row[0]), int(row[1])

    return asyncio.run(read())


def vacuum(url: str, every: float) -> None:
    """A plain VACUUM of the history tables, standing in for autovacuum on a server that
    has it off (`--vacuum-every`); nothing when `every` is 0."""
    if every:
        asyncio.run(data.scalar(url, "VACUUM attempts, deliveries, messages"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def sampling(every: float, sample: Callable[[], Any]) -> Iterator[list[tuple[float, Any]]]:
    """(seconds since start, sample()) every `every` seconds while the block runs."""
    samples: list[tuple[float, Any]] = []
    stop = threading.Event()
    started = time.monotonic()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a process that just exited
                samples.append((time.monotonic() - started, sample()))
            stop.wait(every)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(every + 5)
        samples.append((time.monotonic() - started, sample()))


# -- the bench --------------------------------------------------------------------------------
class HistoryBench(Bench):
    """The four targets; the receiver, load generators and raw ceiling are throughput.py's."""

    def __init__(self, args: argparse.Namespace, children: Children, work_dir: Path) -> None:
        super().__init__(args, children, work_dir)
        self.results: dict[str, Any] = {}
        self.published = 0

    def serve(self, url: str, *, worker: bool = True, **env: str) -> tuple[Child, str]:
        port = free_port()
        child = start_serve(self.children, url, self.work_dir, port, worker=worker,
                            worker_processes=0 if worker else None, env=env)
        return child, f"http://127.0.0.1:{port}"

    def app_with_endpoints(self, base: str) -> tuple[str, list[str]]:
        app_id = self.create_app(base)
        page = http_json("GET", f"{base}/api/v1/app/{app_id}/endpoint?limit=50", None,
                         ADMIN_TOKEN)
        return app_id, sorted(ep["id"] for ep in page["data"])

    # -- target 1 ---------------------------------------------------------------------------
    def reads(self) -> dict[str, Any]:
        if len(self.args.reuse) > 1:
            return self.reads_of_kept()
        args = self.args
        rows: list[dict[str, Any]] = []
        with self.history_database() as url:
            serve, base = self.serve(url, worker=False)
            try:
                app_id, endpoint_id = self.history_app(base, url)
                reader = Reader(base)
                reader.sign_in(base, app_id)
                built = asyncio.run(data.scalar(url, "SELECT COUNT(*) FROM attempts"))
                for size in args.sizes:
                    build_s = 0.0
                    if size > built:
                        print(f"target 1: writing attempts {built:,}..{size - 1:,}", flush=True)
                        build_s = asyncio.run(data.add_history(
                            url, app_id, endpoint_id, built, size - built, args.newest,
                            args.history_rate))
                        built = size
                    elif size < built:
                        print(f"target 1: {size:,} skipped ({built:,} already there)")
                        continue
                    [timings] = read_timings([(reader, app_id, endpoint_id)], args.reads)
                    row = {"history": size, "build_s": round(build_s, 1), **timings,
                           "database_mb": round(database_mb(url)),
                           "load_average": os.getloadavg()[0]}
                    rows.append(row)
                    print(f"target 1: {row}", flush=True)
            finally:
                serve.stop()
        return {"rows": rows, "verdict": reads_verdict(rows)}

    def reads_of_kept(self) -> dict[str, Any]:
        """Target 1 on databases `--keep` kept (several `--reuse`), timed in turn."""
        readers, sizes = [], []
        for url in self.args.reuse:
            _, base = self.serve(url, worker=False)  # stopped with the run's other children
            app_id, endpoint_id = self.history_app(base, url)
            reader = Reader(base)
            reader.sign_in(base, app_id)
            readers.append((reader, app_id, endpoint_id))
            sizes.append((asyncio.run(data.scalar(url, "SELECT COUNT(*) FROM attempts")),
                          database_mb(url)))
        rows = [{"history": size, "build_s": 0.0, **timings, "database_mb": round(mb),
                 "load_average": os.getloadavg()[0]}
                for (size, mb), timings in zip(sizes, read_timings(readers, self.args.reads),
                                               strict=True)]
        rows.sort(key=lambda r: r["history"])
        for row in rows:
            print(f"target 1: {row}", flush=True)
        return {"rows": rows, "verdict": reads_verdict(rows)}

    @contextlib.contextmanager
    def history_database(self) -> Iterator[str]:
        """A scratch database, or the one `--reuse` names (kept, as `--keep` keeps one)."""
        if self.args.reuse:
            yield self.args.reuse[0]
            return
        if not self.args.keep:
            with scratch_database("postgres", self.args.postgres_url, self.work_dir) as url:
                yield url
            return
        name = "bench_history_" + datetime.datetime.now().strftime("%H%M%S")
        asyncio.run(admin_statement(self.args.postgres_url, f"CREATE DATABASE {name}"))
        url = with_database(self.args.postgres_url, name)
        print(f"target 1: keeping the database: --reuse {url}", flush=True)
        yield url

    def history_app(self, base: str, url: str) -> tuple[str, str]:
        """The application of a reused database, or a new one with one endpoint."""
        app_id = asyncio.run(data.scalar(url, "SELECT id FROM applications LIMIT 1"))
        if app_id is None:
            app = http_json("POST", f"{base}/api/v1/app", {"name": "history"}, ADMIN_TOKEN)
            http_json("POST", f"{base}/api/v1/app/{app['id']}/endpoint",
                      {"url": "http://127.0.0.1:9/hook"}, ADMIN_TOKEN)
            app_id = app["id"]
        endpoint_id = asyncio.run(data.scalar(
            url, "SELECT id FROM endpoints WHERE app_id = $1 ORDER BY id LIMIT 1", app_id))
        return str(app_id), str(endpoint_id)

    # -- target 2 ---------------------------------------------------------------------------
    def bounded_size(self) -> dict[str, Any]:
        args = self.args
        retention = args.retention
        duration = retention * args.periods
        with scratch_database("postgres", args.postgres_url, self.work_dir) as url:
            serve, base = self.serve(
                url, HOOKLINE_RETENTION_DAYS=f"{retention / DAY:.10f}",
                HOOKLINE_PAYLOAD_RETENTION_DAYS=f"{retention / 2 / DAY:.10f}",
                HOOKLINE_PURGE_INTERVAL=str(args.purge_interval))
            try:
                app_id = self.create_app(base)
                with sampling(args.sample, lambda: (history_mb(url), database_mb(url),
                                                    *live_and_dead_messages(url))) as got, \
                        sampling(args.vacuum_every or duration * 2, lambda: vacuum(
                            url, args.vacuum_every)):
                    phase = self.steady_load(base, app_id, duration, "target 2")
            finally:
                serve.stop()
        # (seconds, history tables MB, database MB, live messages, dead message rows)
        series = [(round(t, 1), round(h, 2), round(d, 1), live, dead)
                  for t, (h, d, live, dead) in got]
        return {"retention_s": retention, "rate": args.steady_rate, "seconds": duration,
                "vacuum_every_s": args.vacuum_every,
                "delivered": phase.received["count"], "samples": series,
                "verdict": size_verdict(series, retention)}

    def steady_load(self, base: str, app_id: str, seconds: float, label: str) -> Phase:
        args = self.args
        total = int(args.steady_rate * seconds)
        # Message numbers run on from phase to phase: the load generator's event ids are
        # unique per application.
        specs = self.publish_specs("open", f"{base}/api/v1/app/{app_id}/msg", total,
                                   args.open_cap, seconds + 5, first=self.published)
        self.published += total
        self.reset_receiver()
        return self.drive(specs, label, args.endpoints, seconds + 120)

    # -- target 3 ---------------------------------------------------------------------------
    def purge_effect(self) -> dict[str, Any]:
        args = self.args
        messages = -(-args.purge_rows // len(data.HISTORY_TABLES))  # a message, delivery, attempt
        with scratch_database("postgres", args.postgres_url, self.work_dir) as url:
            serve, base = self.serve(url, worker=False)
            try:
                app_id, endpoint_ids = self.app_with_endpoints(base)
            finally:
                serve.stop()
            old = time.time() - 100 * DAY
            build_s = asyncio.run(data.add_history(url, app_id, endpoint_ids[0], 0, messages,
                                                   old, 100.0))
            print(f"target 3: {messages:,} expired messages written in {build_s:.0f} s",
                  flush=True)
            before = self.load_phase(url, app_id, "365", "without purge")
            during = self.load_phase(url, app_id, "90", "during purge")
            left = asyncio.run(data.scalar(url, "SELECT COUNT(*) FROM messages "
                                                "WHERE created_at < $1", old + 1))
        p99 = [latency_ms(p["latencies"])[2] for p in (before, during)]
        return {"expired_rows": messages * 3, "build_s": round(build_s),
                "without": summary(before), "during": summary(during),
                "messages_left": left, "purge_s": during["purge_s"],
                "verdict": p99[0] is not None and p99[1] is not None and p99[1] < 2 * p99[0]}

    def load_phase(self, url: str, app_id: str, retention_days: str,
                   label: str) -> dict[str, Any]:
        """A steady load on serve under a retention: without a purge (nothing expired), or
        while the purge runs: in slices of --load-seconds until nothing expired is left."""
        args = self.args
        serve, base = self.serve(url, HOOKLINE_RETENTION_DAYS=retention_days,
                                 HOOKLINE_PURGE_INTERVAL="1")
        latencies: list[float] = []
        delivered = 0
        started = time.monotonic()
        try:
            for _ in range(args.max_slices):
                phase = self.steady_load(base, app_id, args.load_seconds, f"target 3 {label}")
                latencies += phase.received["latencies"]
                delivered += phase.received["count"]
                if retention_days == "365" or not asyncio.run(data.scalar(
                        url, "SELECT EXISTS (SELECT 1 FROM messages WHERE created_at < $1)",
                        time.time() - 90 * DAY)):
                    break
        finally:
            serve.stop()
        seconds = time.monotonic() - started
        print(f"target 3 {label}: {delivered:,} delivered in {seconds:.0f} s, p50/p90/p99 "
              f"{latency_ms(latencies)} ms", flush=True)
        return {"latencies": latencies, "delivered": delivered, "purge_s": round(seconds)}

    # -- target 4 ---------------------------------------------------------------------------
    def drains(self) -> dict[str, Any]:
        args = self.args
        ceilings = [self.ceiling("start")]
        drained = [self.drain_backlog(size) for size in args.backlogs]
        ceilings.append(self.ceiling("end"))
        ceiling = statistics.mean(r.deliveries_per_s or 0 for r in ceilings)
        small, large = drained[0], drained[-1]
        return {"ceiling_per_s": round(ceiling), "drains": drained,
                "verdict": {
                    "memory_flat": large["peak_rss_mb"] <= 1.2 * large["start_rss_mb"],
                    "vs_small": round(large["per_s"] / small["per_s"], 2),
                    "vs_ceiling": round(large["per_s"] / ceiling, 2)}}

    def drain_backlog(self, size: int) -> dict[str, Any]:
        with scratch_database("postgres", self.args.postgres_url, self.work_dir) as url:
            serve, base = self.serve(url, worker=False)
            try:
                app_id, endpoint_ids = self.app_with_endpoints(base)
            finally:
                serve.stop()
            build_s = asyncio.run(data.add_backlog(url, app_id, endpoint_ids, size // 2,
                                                   time.time()))
            expected = size // 2 * len(endpoint_ids)
            self.reset_receiver()
            worker = start_worker(self.children, url, self.work_dir)
            start_rss = rss_mb(worker.pid)
            started = time.time()
            try:
                with sampling(1.0, lambda: (self.received_count(), rss_mb(worker.pid))) as got:
                    done = self.wait_for_deliveries(expected, f"drain {size:,}",
                                                    self.args.timeout)
            finally:
                worker.stop()
        seconds = max(self.received()["last"] - started, 1e-9)
        early = [(t, n) for t, (n, _) in got if 0 < t <= 10]
        first_10s = early[-1][1] / early[-1][0] if early else 0.0
        row = {"backlog": expected, "build_s": round(build_s), "seconds": round(seconds, 1),
               "per_s": round(expected / seconds if done else got[-1][1][0] / seconds),
               "first_10s_per_s": round(first_10s), "start_rss_mb": round(start_rss, 1),
               "peak_rss_mb": round(max(r for _, (_, r) in got), 1), "done": done,
               "rss": [(round(t), round(r, 1)) for t, (_, r) in got],
               "load_average": os.getloadavg()[0]}
        print(f"target 4: {({k: v for k, v in row.items() if k != 'rss'})}", flush=True)
        return row

    def run_targets(self) -> dict[str, Any]:
        steps = {"1": self.reads, "2": self.bounded_size, "3": self.purge_effect,
                 "4": self.drains}
        for target in self.args.targets:
            started = datetime.datetime.now(datetime.UTC)
            result = steps[target]()
            result["started"] = started.isoformat(timespec="seconds")
            result["load_average_after"] = os.getloadavg()
            self.results[target] = result
        return self.results


def summary(phase: dict[str, Any]) -> dict[str, Any]:
    p50, p90, p99 = latency_ms(phase["latencies"])
    return {"delivered": phase["delivered"], "p50_ms": p50, "p90_ms": p90, "p99_ms": p99}


def reads_verdict(rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Each read under 50 ms at every size, and within 2x of its time at the smallest."""
    if not rows:
        return {}
    first = rows[0]
    return {key: all(r[key] < SLOW_READ_MS and r[key] <= 2 * max(first[key], 1.0)
                     for r in rows)
            for key in ("stats_ms", "list_ms", "page_ms", "logs_ms")}


def size_verdict(series: list[tuple[Any, ...]], retention: float) -> dict[str, Any]:
    """The history tables' size at the end of the second retention period against the
    largest after it: growth after the first periods, as a share."""
    settled = [s[1] for s in series if s[0] <= 2 * retention]
    later = [s[1] for s in series if s[0] > 2 * retention]
    if not settled or not later:
        return {"growth_after_2_periods": None}
    reference = settled[-1]
    return {"mb_at_2_periods": reference, "max_mb_after": max(later),
            "growth_after_2_periods": round(max(later) / reference - 1, 3)}


# -- reporting --------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    out: list[str] = []
    if "1" in results:
        out += ["| history | stats API | portal endpoint list | portal endpoint page | "
                "portal logs | database | build | load avg |", "|" + "---|" * 8]
        out += [f"| {r['history']:,} | {r['stats_ms']:.1f} ms | {r['list_ms']:.1f} ms | "
                f"{r['page_ms']:.1f} ms | {r['logs_ms']:.1f} ms | {r['database_mb']:,} MB | "
                f"{r['build_s']:.0f} s | {r['load_average']:.1f} |"
                for r in results["1"]["rows"]]
        out.append(f"\nverdict (< 50 ms and within 2x of the smallest): "
                   f"{results['1']['verdict']}\n")
    if "2" in results:
        r = results["2"]
        vacuumed = (f"VACUUM every {r['vacuum_every_s']:g} s" if r.get("vacuum_every_s")
                    else "no VACUUM from the bench (what Hookline's purger runs, and "
                         "autovacuum if the server has it on)")
        out.append(f"Target 2: retention {r['retention_s']:g} s, {r['rate']:g} msg/s for "
                   f"{r['seconds']:g} s, {vacuumed}, {r['delivered']:,} delivered: "
                   f"{r['verdict']}\n")
    if "3" in results:
        r = results["3"]
        out += ["| delivery latency | delivered | p50 | p90 | p99 |", "|---|---|---|---|---|"]
        out += [f"| {name} | {s['delivered']:,} | {s['p50_ms']:.0f} ms | {s['p90_ms']:.0f} ms "
                f"| {s['p99_ms']:.0f} ms |" for name, s in (("without purge", r["without"]),
                                                            ("during purge", r["during"]))]
        out.append(f"\n{r['expired_rows']:,} expired rows; {r['messages_left']:,} expired "
                   f"messages left after {r['purge_s']} s; p99 within 2x: {r['verdict']}\n")
    if "4" in results:
        r = results["4"]
        out += ["| backlog | drain/s | first 10 s | RSS start → peak | seconds |",
                "|---|---|---|---|---|"]
        out += [f"| {d['backlog']:,} | {d['per_s']:,} | {d['first_10s_per_s']:,} | "
                f"{d['start_rss_mb']} → {d['peak_rss_mb']} MB | {d['seconds']} |"
                for d in r["drains"]]
        out.append(f"\nraw ceiling {r['ceiling_per_s']:,}/s; {r['verdict']}\n")
    return "\n".join(out)


def draw(path: Path, results: dict[str, Any], title: str) -> None:
    """One panel per target measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [t for t in TARGETS if t in results]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False)
    for ax, target in zip(axes[0], panels, strict=True):
        result = results[target]
        if target == "1":
            sizes = [r["history"] for r in result["rows"]]
            for key, name in (("stats_ms", "stats API"), ("list_ms", "endpoint list"),
                              ("page_ms", "endpoint page"), ("logs_ms", "logs page")):
                ax.plot(sizes, [r[key] for r in result["rows"]], marker="o", label=name)
            ax.axhline(SLOW_READ_MS, color="#c00", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.set(xlabel="attempts of history", ylabel="p50 ms", title="1: reads over HTTP")
        elif target == "2":
            vacuumed = (f"VACUUM every {result['vacuum_every_s']:g} s"
                        if result.get("vacuum_every_s") else "no VACUUM")
            ax.plot([s[0] for s in result["samples"]], [s[1] for s in result["samples"]],
                    label=f"history tables, {vacuumed}")
            for k in range(1, int(result["seconds"] // result["retention_s"]) + 1):
                ax.axvline(k * result["retention_s"], color="#aaa", linewidth=0.5)
            ax.set(xlabel="seconds of steady load", ylabel="history tables, MB",
                   title=f"2: size, retention {result['retention_s']:g} s")
        elif target == "3":
            names = ("p50_ms", "p90_ms", "p99_ms")
            for offset, (label, key) in ((-0.2, ("without purge", "without")),
                                         (0.2, ("during purge", "during"))):
                ax.bar([i + offset for i in range(3)], [result[key][n] or 0 for n in names],
                       0.4, label=label)
            ax.set_xticks(range(3), ["p50", "p90", "p99"])
            ax.set(ylabel="publish → arrival, ms", title="3: delivery latency vs purge")
        else:
            for d in result["drains"]:
                ax.plot([t for t, _ in d["rss"]], [r for _, r in d["rss"]],
                        label=f"{d['backlog']:,} backlog, {d['per_s']}/s")
            ax.set(xlabel="seconds draining", ylabel="worker RSS, MB",
                   title=f"4: drain (ceiling {result['ceiling_per_s']}/s)")
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--targets", default="1,2,3,4", help="comma-separated, of 1, 2, 3, 4")
    add("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    add("--sizes", default="10000,1000000,10000000", help="target 1: attempts of history")
    add("--reads", type=int, default=7, help="target 1: timed reads of each page")
    add("--history-rate", type=float, default=10_000_000 / (28 * DAY),
        help="target 1: attempts/s the history was written at (default: 10M over 28 days)")
    add("--keep", action="store_true", help="target 1: keep the history database")
    add("--reuse", default="", help="target 1: a database kept by --keep (adds what is "
        "missing); several, comma-separated: each is timed as it is, in turn")
    add("--retention", type=float, default=60.0, help="target 2: retention in seconds")
    add("--periods", type=int, default=6, help="target 2: retention periods of load")
    add("--purge-interval", type=float, default=5.0, help="target 2: HOOKLINE_PURGE_INTERVAL")
    add("--sample", type=float, default=5.0, help="target 2: seconds between size samples")
    add("--vacuum-every", type=float, default=0.0,
        help="target 2: VACUUM the history tables this often (s), for a server whose "
             "autovacuum is off (0: never)")
    add("--steady-rate", type=float, default=50.0, help="targets 2, 3: messages/s offered")
    add("--purge-rows", type=int, default=1_000_000, help="target 3: expired rows to purge")
    add("--load-seconds", type=float, default=60.0, help="target 3: seconds per load slice")
    add("--max-slices", type=int, default=10, help="target 3: load slices while purging")
    add("--backlogs", default="10000,1000000", help="target 4: deliveries, small then large")
    add("--endpoints", type=int, default=2)
    add("--generators", type=int, default=2, help="load-generator processes")
    add("--open-cap", type=int, default=512, help="open loop: requests outstanding at most")
    add("--messages", type=int, default=20000, help="raw ceiling: messages (x endpoints)")
    add("--ceiling-in-flight", type=int, default=64)
    add("--timeout", type=float, default=3600.0, help="seconds a drain may take")
    add("--json", type=Path, default=HERE / "history.json")
    add("--chart", type=Path, default=HERE / "history.png")
    args = parser.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if set(args.targets) - set(TARGETS):
        parser.error(f"targets are {', '.join(TARGETS)}")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.backlogs = [int(s) for s in args.backlogs.split(",")]
    args.reuse = [u for u in args.reuse.split(",") if u]
    args.newest = time.time()
    args.rate, args.batch_size = args.steady_rate, 100  # what Harness.publish_specs reads
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="hookline-history-") as tmp, \
            Children(Path(tmp)) as children:
        bench = HistoryBench(args, children, Path(tmp))
        try:
            results = bench.run_targets()
        except KeyboardInterrupt:
            print("\ninterrupted; every process stopped", file=sys.stderr)
            return 130
        except (BenchError, OSError) as exc:
            print(f"\nbenchmark failed: {exc}; every process stopped", file=sys.stderr)
            results = bench.results
            if not results:
                return 1
    meta = {"date": started.isoformat(timespec="seconds"),
            "ended": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": " ".join(["bench/history.py", *(argv or sys.argv[1:])]),
            "cores": os.cpu_count(), "load_average_before": load_before,
            "load_average_after": os.getloadavg()}
    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    if "1" in results and "target_1" in previous:  # sizes measured apart (--reuse) add up
        sizes = {r["history"] for r in results["1"]["rows"]}
        results["1"]["rows"] = sorted([r for r in previous["target_1"]["rows"]
                                       if r["history"] not in sizes] + results["1"]["rows"],
                                      key=lambda r: r["history"])
        results["1"]["verdict"] = reads_verdict(results["1"]["rows"])
    previous.update({f"target_{k}": {**v, "meta": meta} for k, v in results.items()})
    args.json.write_text(json.dumps(previous, indent=1, default=str) + "\n")
    table = markdown(results)
    print(f"\n{meta}\n\n{table}\nfigures: {args.json}")
    merged = {k.removeprefix("target_"): v for k, v in previous.items()}
    draw(args.chart, merged, f"Hookline history at scale (issue 18), PostgreSQL, "
         f"{os.cpu_count()} shared cores")
    print(f"chart: {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
