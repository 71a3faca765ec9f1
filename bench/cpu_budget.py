"""Where a delivery's CPU goes, per process, and what that allows on this machine.

The raw ceiling is an aiohttp client and the verifying receiver; a drain adds a worker and the
database, the closed loop the API and its clients too. This measures each process's CPU time
per delivery (Linux /proc), with no profiler attached, in these phases on one receiver:

  ceiling  load-generator processes POST signed requests straight to the receiver
  drain    one `hookline worker` empties a backlog built with batch publishes (the worker,
           the receiver and, on PostgreSQL, the database's backend processes)
  closed   `hookline serve` (its layout's API and worker processes) under the closed loop
           (16 publishes in flight), with the load generators, receiver and database

It prints each phase's rate, the cores each process used, its CPU per delivery, and the rate
the whole machine could reach if every core went to that work (`cores / CPU per delivery`).
A phase's bound over the ceiling's measured rate is the most it can read as "of ceiling" in
`throughput.py`, however well it overlaps its waits (the ceiling itself leaves some of the
machine idle); its bound over the ceiling's bound compares the two costs.

    .venv/bin/python bench/cpu_budget.py                       # both databases
    .venv/bin/python bench/cpu_budget.py --database postgres --messages 20000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from harness import Harness
from processes import (
    Children,
    cpu_seconds,
    free_port,
    postgres_backends,
    scratch_database,
    start_serve,
    start_worker,
)
from throughput import parse_args

WARM_UP = 1000  # deliveries arrived before the drain's window opens
WINDOW = 8.0  # seconds of the drain measured


def children_cpu() -> float:
    """CPU of this process's ended (waited-for) children: the load generators."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_idle() -> tuple[int, int]:
    """Idle and total jiffies of all cores so far (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def start_up_cpu(bench: Harness, kind: str, url: str, fan_out: int) -> float:
    """CPU the load generators spend starting (spawn, imports) and stopping: a phase of one
    message per generator, taken off the measured phase's."""
    before = children_cpu()
    bench.drive(bench.publish_specs(kind, url, bench.args.generators, 1, 60),
                f"{kind} start-up", fan_out, 60)
    return children_cpu() - before


def process_groups(bench: Harness, database: str, url: str, name: str,
                   pids: list[int]) -> dict[str, list[int]]:
    """The processes measured beside the load generators: `pids` as `name`, the receiver,
    and on PostgreSQL the database's backends."""
    groups = {name: pids, "receiver": [bench.receiver_process.pid]}
    if database == "postgres":
        groups["PostgreSQL backends"] = postgres_backends(url)
    return groups


def report(label: str, delivered: int, seconds: float, cpu: dict[str, float],
           idle: float | None = None) -> float:
    """Print one phase; returns its bound: deliveries/s if all cores did only this. `idle`:
    the machine's idle cores, where the phase was measured over a steady window."""
    per = {name: 1000 * used / max(delivered, 1) for name, used in cpu.items()}
    total = sum(per.values())
    cores = os.cpu_count() or 1
    bound = 1000 * cores / total if total else 0.0
    idling = "" if idle is None else f"; machine idle {idle:.2f} cores"
    print(f"{label}: {delivered / seconds:,.0f} deliveries/s{idling}")
    for name, ms in per.items():
        print(f"  {name:<22} {cpu[name] / seconds:5.2f} cores  {ms:6.3f} ms per delivery")
    print(f"  {'all':<22} {sum(cpu.values()) / seconds:5.2f} cores  {total:6.3f} ms per "
          f"delivery: at most {bound:,.0f}/s on {cores} cores")
    return bound


def ceiling(bench: Harness, count: int) -> tuple[float, float]:
    """The raw phase: its rate (first to last arrival) and its bound. A generator's start-up
    (spawn, imports) is measured with a phase of one message per generator and taken off."""
    start_up = start_up_cpu(bench, "raw", bench.receiver, 0)
    bench.reset_receiver()
    receiver = [bench.receiver_process.pid]
    before, generators = cpu_seconds(receiver), children_cpu()
    phase = bench.drive(bench.publish_specs("raw", bench.receiver, count, 64, 120),
                        "ceiling", 0, 120)
    got = phase.received
    seconds = got["last"] - got["first"]
    bound = report("raw aiohttp → receiver", got["count"], seconds,
                   {"load generators": children_cpu() - generators - start_up,
                    "receiver": cpu_seconds(receiver) - before})
    return got["count"] / seconds, bound


def _idle_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (os.cpu_count() or 1) * (after[0] - before[0]) / max(after[1] - before[1], 1)


def drain(bench: Harness, database: str, postgres_url: str, messages: int,
          work_dir: Path) -> float:
    with scratch_database(database, postgres_url, work_dir) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = start_serve(bench.children, url, work_dir, port, worker=False)
        try:
            app_url = f"{base}/api/v1/app/{bench.create_app(base)}/msg/batch"
            bench.drive(bench.publish_specs("batch", app_url, messages, 4, 120),
                        f"{database} backlog", 0, 120)
        finally:
            serve.stop()
        bench.reset_receiver()
        worker = start_worker(bench.children, url, work_dir)
        try:
            while bench.received_count() < WARM_UP:
                time.sleep(0.02)
            groups = process_groups(bench, database, url, "worker", [worker.pid])
            before = {name: cpu_seconds(pids) for name, pids in groups.items()}
            idle, count, started = machine_idle(), bench.received_count(), time.monotonic()
            time.sleep(WINDOW)
            used = {name: cpu_seconds(pids) - before[name] for name, pids in groups.items()}
            delivered, seconds = bench.received_count() - count, time.monotonic() - started
            idle_after = machine_idle()
        finally:
            worker.stop()
    if delivered + WARM_UP >= messages * bench.args.endpoints:
        print(f"{database}: the backlog ran out within the window; use more --messages")
    return report(f"{database} drain, 1 worker", delivered, seconds, used,
                  _idle_cores(idle, idle_after))


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it (/proc's children lists)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def closed(bench: Harness, database: str, postgres_url: str, messages: int,
           work_dir: Path) -> float:
    with scratch_database(database, postgres_url, work_dir) as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = start_serve(bench.children, url, work_dir, port)
        try:
            app_url = f"{base}/api/v1/app/{bench.create_app(base)}/msg"
            start_up = start_up_cpu(bench, "closed", app_url, bench.args.endpoints)
            bench.reset_receiver()
            groups = process_groups(bench, database, url, "serve (API + workers)",
                                    descendants(serve.pid))
            before = {name: cpu_seconds(pids) for name, pids in groups.items()}
            generators = children_cpu()
            phase = bench.drive(bench.publish_specs("closed", app_url, messages, 16, 120),
                                f"{database} closed loop", bench.args.endpoints, 120)
            used = {name: cpu_seconds(pids) - before[name] for name, pids in groups.items()}
            used["load generators"] = children_cpu() - generators - start_up
        finally:
            serve.stop()
    got = phase.received
    return report(f"{database} closed loop, 16 in flight", got["count"],
                  got["last"] - got["first"], used)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--messages", type=int, default=20_000, help="backlog, in messages")
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    options = parser.parse_args()
    args = parse_args(["--endpoints", str(options.endpoints), "--postgres-url",
                       options.postgres_url])
    databases = ("sqlite", "postgres") if options.database == "both" else (options.database,)
    with tempfile.TemporaryDirectory(prefix="hookline-cpu-") as tmp, \
            Children(Path(tmp)) as children:
        bench = Harness(args, children, Path(tmp))
        rate, top = ceiling(bench, 5000)
        for database in databases:
            for phase in (drain, closed):
                count = options.messages if phase is drain else options.messages // 4
                bound = phase(bench, database, options.postgres_url, count, Path(tmp))
                print(f"  its bound is {bound / rate:.0%} of the ceiling's measured rate "
                      f"(the most it can read as 'of ceiling'), {bound / top:.0%} of the "
                      "ceiling's bound (the two costs compared)")
        ceiling(bench, 5000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
