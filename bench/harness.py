"""The measuring harness shared by the bench scripts: a verifying receiver, load-generator
processes, and the set-up of a Hookline application over its API.

`Harness.drive` runs generator processes and, while they publish, watches the receiver until
every accepted message arrived at every endpoint (or time ran out)."""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadgen
from loadgen import LoadSpec
from processes import ADMIN_TOKEN, BenchError, Children, free_port, http_json, start_receiver
from tqdm import tqdm

from hookline.signing import generate_secret

POLL = 0.25  # seconds between looks at the receiver's progress


@dataclass
class Phase:
    """What the generators and the receiver saw during one measured phase."""

    generated: dict[str, Any]
    received: dict[str, Any]
    timed_out: bool

    @property
    def accepted(self) -> int:
        return int(self.generated.get("accepted", 0))

    def failed_requests(self) -> int:
        statuses = self.generated.get("statuses", {})
        return int(self.generated.get("errors", 0)) + sum(
            n for code, n in statuses.items() if not 200 <= int(code) < 300)


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    for r in results:
        statuses.update({int(k): v for k, v in r["statuses"].items()})
    firsts = [r["first_send"] for r in results if r["first_send"]]
    lasts = [r["last_answer"] for r in results if r["last_answer"]]
    return {
        "sent": sum(r["sent"] for r in results),
        "accepted": sum(r["accepted"] for r in results),
        "skipped": sum(r["skipped"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "unavailable": any(r["unavailable"] for r in results),
        "statuses": dict(statuses),
        "answer_latencies": [x for r in results for x in r["answer_latencies"]],
        "first_send": min(firsts) if firsts else 0.0,
        "last_answer": max(lasts) if lasts else 0.0,
    }


def split(total: int, parts: int, unit: int = 1) -> list[int]:
    """`total` in `parts` shares, each a multiple of `unit` but the last."""
    base = (total // parts) // unit * unit
    shares = [base] * parts
    shares[-1] = total - base * (parts - 1)
    return [s for s in shares if s > 0]


class Harness:
    """A run's receiver and the means to drive load at a Hookline server."""

    def __init__(self, args: argparse.Namespace, children: Children, work_dir: Path) -> None:
        self.args = args
        self.children = children
        self.work_dir = work_dir
        self.secret = generate_secret(24)
        self.mp = multiprocessing.get_context("spawn")
        port = free_port()
        self.receiver = f"http://127.0.0.1:{port}"
        self.receiver_process = start_receiver(children, port, self.secret)

    # -- the receiver ------------------------------------------------------------------------
    def reset_receiver(self) -> None:
        http_json("POST", self.receiver + "/_reset")

    def received(self) -> dict[str, Any]:
        return dict(http_json("GET", self.receiver + "/_stats"))

    def received_count(self) -> int:
        return int(http_json("GET", self.receiver + "/_progress")["count"])

    # -- driving load ------------------------------------------------------------------------
    def drive(self, specs: list[LoadSpec], label: str, fan_out: int,
              timeout: float) -> Phase:
        """Run generator processes; unless `fan_out` is 0, also wait until every accepted
        message reached the receiver `fan_out` times (or `timeout` passed)."""
        progress = self.mp.Value("q", 0)
        results = self.mp.Queue()
        procs = [self.mp.Process(target=loadgen.run, args=(spec, progress, results),
                                 daemon=True, name=f"loadgen-{i}")
                 for i, spec in enumerate(specs)]
        unit = "dlv" if specs[0].kind == "raw" else "msg"
        published = tqdm(total=sum(s.count * (s.endpoints if s.kind == "raw" else 1)
                                   for s in specs),
                         desc=f"{label}: accepted", unit=unit, position=0, leave=False)
        delivered = (tqdm(total=sum(s.count for s in specs) * fan_out, desc="  delivered",
                          unit="dlv", position=1, leave=False) if fan_out else None)
        collected: list[dict[str, Any]] = []
        deadline = time.time() + timeout
        timed_out = False
        try:
            for proc in procs:
                proc.start()
            while True:
                collected += _drain_queue(results)
                published.n = progress.value
                published.refresh()
                generators_done = len(collected) == len(procs)
                if not generators_done and all(p.exitcode is not None for p in procs):
                    time.sleep(POLL)  # a result put just before exiting may still be in transit
                    collected += _drain_queue(results)
                    if len(collected) < len(procs):
                        raise BenchError(f"{label}: a load generator died without a result")
                arrived_enough = True
                if delivered is not None:
                    delivered.n = self.received_count()
                    delivered.refresh()
                    arrived_enough = delivered.n >= progress.value * fan_out
                if generators_done and arrived_enough:
                    break
                if time.time() > deadline:
                    timed_out = True
                    break
                time.sleep(POLL)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
                proc.join(5)
            published.close()
            if delivered is not None:
                delivered.close()
        collected += _drain_queue(results)
        return Phase(merge(collected) if collected else merge([]), self.received(), timed_out)

    def wait_for_deliveries(self, expected: int, label: str, timeout: float) -> bool:
        """Poll the receiver until `expected` distinct deliveries arrived; False on timeout."""
        deadline = time.time() + timeout
        with tqdm(total=expected, desc=f"{label}: delivered", unit="dlv", leave=False) as bar:
            while True:
                bar.n = self.received_count()
                bar.refresh()
                if bar.n >= expected:
                    return True
                if time.time() > deadline:
                    return False
                time.sleep(POLL)

    # -- Hookline set-up -----------------------------------------------------------------------
    def create_app(self, base: str, broken: bool = False) -> str:
        app = http_json("POST", base + "/api/v1/app", {"name": "bench"}, ADMIN_TOKEN)
        urls = [f"{self.receiver}/ep{k}" for k in range(self.args.endpoints)]
        if broken:  # beside the healthy endpoints, partners that fail (bench/receiver.py)
            urls += [f"{self.receiver}/broken-{kind}-{k}"
                     for count, kind in self.args.broken for k in range(count)]
        for url in urls:
            http_json("POST", f"{base}/api/v1/app/{app['id']}/endpoint",
                      {"url": url, "secret": self.secret}, ADMIN_TOKEN)
        return str(app["id"])

    def publish_specs(self, kind: str, url: str, total: int, in_flight: int,
                      timeout: float, first: int = 0) -> list[LoadSpec]:
        args = self.args
        unit = args.batch_size if kind == "batch" else 1
        counts = split(total, args.generators, unit)
        lanes = split(in_flight, len(counts)) if in_flight >= len(counts) else [1] * len(counts)
        specs = []
        deadline = time.time() + timeout
        for count, lanes_here in zip(counts, lanes, strict=True):
            rate = args.rate * count / total if kind == "open" else 0.0
            specs.append(LoadSpec(kind=kind, url=url, first=first, count=count,
                                  in_flight=lanes_here, deadline=deadline, token=ADMIN_TOKEN,
                                  rate=rate, batch_size=args.batch_size, secret=self.secret,
                                  endpoints=args.endpoints))
            first += count
        return specs

    # -- the configurations ----------------------------------------------------------------------

def _drain_queue(results: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while True:
        try:
            got.append(results.get_nowait())
        except queue.Empty:
            return got
