"""Issue 13's fair-delivery targets 2 and 3, measured from outside as a user runs Hookline.

    make bench-fairness          # or: python bench/fairness.py --rate 50 --seconds 20 --json out

`hookline serve --no-worker` on a scratch database (PostgreSQL by default, dropped at the end),
`--workers` `hookline worker` processes (default 2), and the receiver (bench/receiver.py, its
`/timed-` paths) in processes of their own; this script sets everything up over the API and
publishes through `POST /api/v1/app/{app}/msg/batch`. Each target has its own application and
endpoint, with a backlog of `--seconds` of its `throttleRate`:

  2  rate limit  `throttleRate` R and `maxConcurrency` C, the receiver holding each request
                 `--hold` s: in every second after the first it sees R/s +- 5 %, and never
                 more than C requests in flight.
  3  circuit     the same endpoint shape; the receiver answers 429 with `Retry-After: A` once,
                 `--throttle-after` s into the run (for `--throttle-for` s more, if set): it
                 gets nothing for A s after each 429, then one probe alone, then R/s again
                 (every second after the probe's first).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness import Harness
from loadgen import message
from processes import (
    ADMIN_TOKEN,
    BenchError,
    Child,
    Children,
    free_port,
    http_json,
    scratch_database,
    start_serve,
    start_worker,
)

BATCH = 100  # messages per publish request (the batch route's most)
TOLERANCE = 0.05  # of the rate, either way, in each counted second
POLL = 0.25
QUIET = 1.0  # seconds without a request before the one that counts as the probe

Attempt = tuple[float, str, int | None]  # started, worker, status: one attempts row


@dataclass
class Result:
    """One target's figures and verdict."""

    target: int
    title: str
    passed: bool
    figures: dict[str, Any]
    table: str
    failures: list[str] = field(default_factory=list)


def per_second(times: list[float], start: float, end: float) -> list[int]:
    """Arrivals in each whole second [start + k, start + k + 1) that ends by `end`."""
    counts = [0] * max(math.floor(end - start), 0)
    for t in times:
        k = math.floor(t - start)
        if 0 <= k < len(counts):
            counts[k] += 1
    return counts


def rate_figures(counts: list[int], rate: float) -> dict[str, Any]:
    worst = max((abs(c - rate) / rate for c in counts), default=math.inf)
    return {"counted_seconds": len(counts), "min": min(counts, default=None),
            "max": max(counts, default=None), "max_deviation": worst,
            "within": bool(counts) and worst <= TOLERANCE}


def counts_table(counts: list[int]) -> str:
    rows = ["| second | requests |", "|---:|---:|"]
    rows += [f"| {k + 1} | {c} |" for k, c in enumerate(counts)]
    return "\n".join(rows)


def figures_table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def rate_target(args: argparse.Namespace, timeline: dict[str, Any],
                sent: list[Attempt]) -> Result:
    requests = timeline["requests"]
    arrivals = sorted(r[0] for r in requests)
    start, last = arrivals[0], arrivals[-1]
    counts = per_second(arrivals, start, last)
    counted = counts[1:]  # every second after the first
    workers = Counter(worker for _, worker, _ in sent)
    figures = {**rate_figures(counted, args.rate), "first_second": counts[0] if counts else 0,
               "requests": len(requests), "expected": args.backlog,
               "seconds": last - start, "peak_in_flight": timeline["peak_in_flight"],
               "cap": args.cap, "per_second": counts, "attempts_per_worker": dict(workers)}
    failures = []
    if not figures["within"]:
        failures.append(f"a counted second is {figures['max_deviation']:.1%} off {args.rate:g}/s")
    if figures["peak_in_flight"] > args.cap:
        failures.append(f"{figures['peak_in_flight']} in flight, cap {args.cap}")
    if len(requests) < args.backlog:
        failures.append(f"{len(requests)} of {args.backlog} requests arrived")
    summary = figures_table([
        ("requests received", f"{len(requests)} of {args.backlog}, in {last - start:.2f} s"),
        ("attempts per worker", " + ".join(str(n) for _, n in workers.most_common())),
        ("seconds counted", f"{len(counted)} (2 to {len(counts)}; the first: {counts[0]})"
         if counts else "none"),
        ("min / max per second", f"{figures['min']} / {figures['max']}"),
        ("worst deviation from the rate", f"{figures['max_deviation']:.1%}"),
        ("peak in flight (receiver)", f"{figures['peak_in_flight']} (cap {args.cap})")])
    return Result(2, f"{args.rate:g} req/s throttleRate, maxConcurrency {args.cap}, "
                  f"{len(workers)} workers, {args.seconds:g} s of backlog", not failures,
                  figures, summary + "\n\n" + counts_table(counts), failures)


def next_request(requests: list[list[float]], after: float) -> tuple[list[float] | None,
                                                                     list[list[float]]]:
    """The first request to arrive after a quiet second (the probe, when `after` is a 429's
    answer), or else the first after `after`; and those that arrived between."""
    later = [r for r in requests if r[0] > after]
    for i, r in enumerate(later):
        if r[0] - (later[i - 1][0] if i else after) >= QUIET:
            return r, later[:i]
    return (later[0] if later else None), []


@dataclass
class Pauses:
    """What followed the first 429: each pause's silence, what arrived in it, the probe that
    ended the last one, and when each 429 was answered."""

    silences: list[float]
    early: list[list[float]]
    probe: list[float] | None
    answers: list[float]

    @classmethod
    def of(cls, requests: list[list[float]]) -> Pauses:
        """A probe answered 429 again (`--throttle-for`) is followed by another pause."""
        answers = sorted(r[1] for r in requests if r[2] == 429)
        silences: list[float] = []
        early: list[list[float]] = []
        since = answers[0]
        while True:
            probe, between = next_request(requests, since)
            early += between
            if probe is None:
                silences.append(math.inf)
                break
            silences.append(probe[0] - max(a for a in answers if a < probe[0]))
            if probe[2] != 429:
                break
            since = probe[1]
        return cls(silences, early, probe, answers)


def circuit_target(args: argparse.Namespace, timeline: dict[str, Any],
                   sent: list[Attempt], opened: list[float]) -> Result:
    """The silence after each 429, the probe after the last one, and the rate from then on."""
    requests = sorted(timeline["requests"])
    if not any(r[2] == 429 for r in requests):
        return Result(3, "429 with Retry-After", False, {}, "", ["no request was answered 429"])
    pauses = Pauses.of(requests)
    probe, zero = pauses.probe, pauses.answers[0]  # when Hookline could first know of a 429
    # What arrived in a pause was either in flight when the 429 was answered (nothing can
    # call it back) or started after: only those are the circuit's to prevent.
    into_pause = [t for t, _, _ in sent
                  if any(a < t < a + args.retry_after for a in pauses.answers)]
    after = [r for r in requests if probe and r[0] >= probe[0]]
    alone = probe is not None and not any(probe[0] < r[0] <= probe[1] for r in after)
    counts = per_second([r[0] for r in after], probe[1], after[-1][0]) if probe else []
    figures = {**rate_figures(counts[1:], args.rate), "refusals": len(pauses.answers),
               "silences": pauses.silences, "early": [r[0] - zero for r in pauses.early],
               "sent_into_pause": [t - zero for t in into_pause],
               "probe_at": probe[0] - zero if probe else None,
               "probe_status": int(probe[2]) if probe else None, "probe_alone": alone,
               "requests": len(requests), "successes": sum(1 for r in requests if r[2] == 200),
               "expected": args.backlog, "per_second_after_probe": counts,
               "timeline": [[r[0] - zero, r[1] - zero, int(r[2])] for r in requests],
               "sent": [[t - zero, worker, status] for t, worker, status in sent],
               "circuit_opened": [t - zero for t in opened]}
    failures = circuit_failures(args, figures)
    summary = figures_table([
        ("429s answered", str(figures["refusals"])),
        ("circuit opened (the worker's log)",
         ", ".join(_signed(t) for t in figures["circuit_opened"]) or "not logged"),
        ("arrivals in the pause", ", ".join(_signed(t) for t in figures["early"]) or "none"),
        ("of those, started after the 429's answer",
         ", ".join(_signed(t) for t in figures["sent_into_pause"]) or "none"),
        ("silence before each probe", ", ".join(f"{t:.3f} s" for t in pauses.silences)),
        ("the probe", f"arrived {_signed(figures['probe_at'])}, answered "
         f"{figures['probe_status']}, {'alone' if alone else 'not alone'}"),
        ("seconds counted after the probe", f"{len(counts) - 1} (the first: {counts[0]})"
         if counts else "none"),
        ("min / max per second", f"{figures['min']} / {figures['max']}"),
        ("worst deviation from the rate", f"{figures['max_deviation']:.1%}"),
        ("messages delivered", f"{figures['successes']} of {args.backlog}")])
    table = "\n\n".join([
        "Times are seconds from the first 429's answer.", summary,
        "Requests around the 429, as the receiver saw them:",
        timeline_table(requests, zero, probe),
        "The same requests as the workers started them (the attempts table):",
        sent_table(sent, zero, requests, probe),
        "Per second after the probe was answered (the first not counted):",
        counts_table(counts)])
    return Result(3, f"429 with Retry-After {args.retry_after:g} at {args.throttle_after:g} s, "
                  f"{args.rate:g} req/s throttleRate", not failures, figures, table, failures)


def circuit_failures(args: argparse.Namespace, figures: dict[str, Any]) -> list[str]:
    failures = []
    if figures["sent_into_pause"]:
        failures.append(f"{len(figures['sent_into_pause'])} request(s) started in the pause, "
                        f"the first {figures['sent_into_pause'][0]:+.3f} s after the 429's "
                        "answer")
    silences = figures["silences"]
    if any(not args.retry_after <= s <= args.retry_after + 1 for s in silences):
        failures.append(f"a probe came {max(silences):.3f} s after a 429, not within a "
                        f"second of Retry-After {args.retry_after:g} s")
    elif not figures["probe_alone"] or figures["probe_status"] != 200:
        failures.append("the probe did not go alone" if not figures["probe_alone"]
                        else "the probe failed")
    if not figures["within"]:
        failures.append(f"after the probe, a counted second is "
                        f"{figures['max_deviation']:.1%} off {args.rate:g}/s")
    if figures["successes"] < args.backlog:
        failures.append(f"{figures['successes']} of {args.backlog} messages delivered")
    return failures


def _around(requests: list[list[float]], first: list[float],
            probe: list[float] | None) -> range:
    """Five requests before `first`, everything up to `probe`, five after it."""
    start = requests.index(first)
    end = requests.index(probe) if probe else len(requests) - 1
    return range(max(start - 5, 0), min(end + 6, len(requests)))


def timeline_table(requests: list[list[float]], zero: float,
                   probe: list[float] | None) -> str:
    first = next(r for r in requests if r[2] == 429)
    rows = ["| request | arrived | answered | status |", "|---|---:|---:|---:|"]
    for i in _around(requests, first, probe):
        arrived, answered, status = requests[i]
        what = " (the probe)" if requests[i] is probe else ""
        rows.append(f"| {i + 1}{what} | {_signed(arrived - zero)} | {_signed(answered - zero)} "
                    f"| {int(status)} |")
    return "\n".join(rows)


def sent_table(sent: list[Attempt], zero: float, requests: list[list[float]],
               probe: list[float] | None) -> str:
    """The attempts started from just before the first 429 to just after the probe."""
    first = next(r for r in requests if r[2] == 429)
    workers = {w: n + 1 for n, w in enumerate(dict.fromkeys(w for _, w, _ in sent))}
    rows = ["| attempt | started | worker | status |", "|---|---:|---:|---:|"]
    lo, hi = first[0] - 0.1, (probe[1] if probe else first[1]) + 0.1
    for i, (started, worker, status) in enumerate(sent):
        if lo <= started <= hi:
            rows.append(f"| {i + 1} | {_signed(started - zero)} | {workers[worker]} "
                        f"| {status} |")
    return "\n".join(rows)


def _signed(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:+.3f} s"


class FairnessBench(Harness):
    """One server, its worker processes and the receiver; one application per target."""

    def endpoint(self, base: str, path: str, **query: float) -> str:
        app = http_json("POST", f"{base}/api/v1/app", {"name": path}, ADMIN_TOKEN)["id"]
        url = f"{self.receiver}/timed-{path}?{urlencode({'hold': self.args.hold, **query})}"
        http_json("POST", f"{base}/api/v1/app/{app}/endpoint",
                  {"url": url, "secret": self.secret, "throttleRate": int(self.args.rate),
                   "maxConcurrency": self.args.cap}, ADMIN_TOKEN)
        return str(app)

    def publish(self, base: str, app: str) -> None:
        now = time.time()
        for first in range(0, self.args.backlog, BATCH):
            numbers = range(first, min(first + BATCH, self.args.backlog))
            http_json("POST", f"{base}/api/v1/app/{app}/msg/batch",
                      {"messages": [message(n, now) for n in numbers]}, ADMIN_TOKEN)

    def wait_for(self, path: str, successes: int, timeout: float) -> dict[str, Any]:
        """The path's timeline once it answered `successes` requests 2xx (or time ran out)."""
        deadline = time.time() + timeout
        while True:
            timeline = http_json("GET", self.receiver + "/_timeline").get(f"/timed-{path}")
            done = timeline and sum(1 for r in timeline["requests"] if r[2] == 200) >= successes
            if done or time.time() > deadline:
                if not timeline:
                    raise BenchError(f"nothing reached /timed-{path}")
                return dict(timeline)
            time.sleep(POLL)

    def run(self, database: str) -> list[Result]:
        args = self.args
        with scratch_database(database, args.postgres_url, self.work_dir) as url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            serve = start_serve(self.children, url, self.work_dir, port, worker=False)
            workers = [start_worker(self.children, url, self.work_dir, name=f"worker{n}",
                                    env={"HOOKLINE_LOG_FORMAT": "json"})
                       for n in range(args.workers)]
            timeout = args.seconds * 3 + args.retry_after + args.throttle_for + 30
            try:
                app = self.endpoint(base, "rate")
                self.publish(base, app)
                rate = rate_target(args, self.wait_for("rate", args.backlog, timeout),
                                   attempts(url, app))
                app = self.endpoint(base, "partner", throttle_after=args.throttle_after,
                                    retry_after=args.retry_after, throttle_for=args.throttle_for)
                self.publish(base, app)
                circuit = circuit_target(args, self.wait_for("partner", args.backlog, timeout),
                                         attempts(url, app), circuit_openings(workers))
            finally:
                for child in [*workers, serve]:
                    child.stop()
        return [rate, circuit]


def attempts(database_url: str, app_id: str) -> list[Attempt]:
    """The sender's view of the application's requests, from the attempts table: (started,
    worker, status) each, oldest first."""
    query = ("SELECT created_at, worker, status_code FROM attempts WHERE app_id = {} "
             "ORDER BY created_at")
    if database_url.startswith("sqlite"):
        with sqlite3.connect(urlsplit(database_url).path[1:]) as conn:
            return list(conn.execute(query.format("?"), (app_id,)).fetchall())

    async def fetch() -> list[Attempt]:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            return [tuple(r) for r in await conn.fetch(query.format("$1"), app_id)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def circuit_openings(workers: list[Child]) -> list[float]:
    """When the workers stored a pause: their "circuit open" warnings (JSON logs, to the ms)."""
    opened = []
    for worker in workers:
        for line in worker.output().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if "circuit open" in entry.get("message", ""):
                at = datetime.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
                opened.append(at.timestamp())
    return sorted(opened)


def report(results: list[Result], meta: dict[str, Any]) -> str:
    lines = [f"`{meta['command']}`: {meta['database']}, {meta['cores']} cores, load average "
             f"{meta['load_average_before']:.1f} before, {meta['load_average_after']:.1f} after"]
    for r in results:
        lines += ["", f"### Target {r.target}: {r.title}", "", r.table]
    lines.append("")
    for r in results:
        verdict = "PASS" if r.passed else "FAIL: " + "; ".join(r.failures)
        lines.append(f"Target {r.target}: {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--database", choices=["postgres", "sqlite"], default="postgres")
    add("--rate", type=float, default=50.0, help="each endpoint's throttleRate, requests/s")
    add("--seconds", type=float, default=20.0, help="backlog, in seconds of the rate")
    add("--cap", type=int, default=4, help="each endpoint's maxConcurrency")
    add("--hold", type=float, default=0.05, help="seconds the receiver holds each request")
    add("--workers", type=int, default=2, help="`hookline worker` processes")
    add("--retry-after", type=int, default=5, help="target 3: the 429's Retry-After, seconds")
    add("--throttle-after", type=float, default=2.0,
        help="target 3: seconds into the run of the first 429")
    add("--throttle-for", type=float, default=0.0,
        help="target 3: seconds the partner goes on answering 429 after the first")
    add("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="an existing database; the run creates and drops its own beside it")
    add("--json", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    args.backlog = int(args.rate * args.seconds)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hookline-fairness-") as tmp, \
            Children(Path(tmp)) as children:
        try:
            results = FairnessBench(args, children, Path(tmp)).run(args.database)
        except KeyboardInterrupt:
            print("\ninterrupted; every process stopped", file=sys.stderr)
            return 130
        except (BenchError, OSError) as exc:
            print(f"\nbenchmark failed: {exc}; every process stopped", file=sys.stderr)
            return 1
    meta = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": " ".join(["bench/fairness.py", *sys.argv[1:]]),
            "database": args.database, "cores": os.cpu_count(),
            "load_average_before": load_before, "load_average_after": os.getloadavg()[0]}
    print(report(results, meta))
    if args.json:
        args.json.write_text(json.dumps({**meta, "results": [asdict(r) for r in results]},
                                        indent=1))
        print(f"\nfigures: {args.json}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
