"""Where the time goes: py-spy samples a running `hookline serve` / `hookline worker` under load.

Four scenarios per database, each on a scratch database, with the same load generators and
verifying receiver as `throughput.py`:
  publish  `serve --no-worker` under the closed loop (16 publishes in flight): the API alone
  batch    `serve --no-worker` under batch publishes (100 a request, 4 in flight)
  deliver  one `hookline worker` draining the backlog the publish scenario left
  e2e      `serve` with its worker under the closed loop, as `make bench` measures it

py-spy writes collapsed stacks (`--format raw`), kept gzipped as
bench/profiles/<db>-<scenario>.txt.gz;
`profile_summary.py` turns each into a breakdown by layer and by step, printed and written to
bench/profiles/SUMMARY.md.

    .venv/bin/python bench/profile_server.py                 # both databases, ~3 minutes
    .venv/bin/python bench/profile_server.py --database postgres --scenarios publish
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import loadgen
from harness import Harness
from processes import (
    HERE,
    BenchError,
    Child,
    Children,
    cpu_seconds,
    free_port,
    postgres_backends,
    scratch_database,
    start_serve,
    start_worker,
)
from profile_summary import summarise
from throughput import parse_args

SCENARIOS = ("publish", "batch", "deliver", "e2e")
WARM_UP = 3.0  # seconds of load before sampling starts
PROFILES = HERE / "profiles"
SUMMARY_NOTE = ("Shares of the sampled process's busy samples. The CPU figures are taken while "
                "py-spy samples, which inflates the sampled process's own (about 2x on the "
                "publish path); for costs use `bench/round_trips.py`. Read with the caveats "
                "in `bench/RESULTS.md`.\n\n")


class Profiler(Harness):
    def __init__(self, args: argparse.Namespace, children: Children, work_dir: Path) -> None:
        super().__init__(parse_args(["--endpoints", str(args.endpoints), "--in-flight",
                                     str(args.in_flight), "--generators",
                                     str(args.generators), "--postgres-url",
                                     args.postgres_url]), children, work_dir)
        self.options = args

    def sample(self, child: Child, name: str, database_url: str,
               others: dict[str, list[int]]) -> tuple[Path, str]:
        """Record `child` for the configured duration. Returns the collapsed-stack file and
        how many cores each process group used meanwhile. Sampling adds to the sampled
        process's CPU (it about doubles the publish path's); `round_trips.py` measures
        costs without a profiler."""
        out = self.options.output / f"{name}.txt"
        py_spy = Path(sys.executable).with_name("py-spy")
        command = [str(py_spy), "record", "--pid", str(child.pid), "--duration",
                   str(int(self.options.duration)), "--rate", str(self.options.rate),
                   "--format", "raw", "--output", str(out)]
        if self.options.native:
            command.append("--native")
        groups = {child.name: [child.pid], **others,
                  "receiver": [self.receiver_process.pid]}
        if database_url.startswith("postgres"):
            groups["PostgreSQL backends"] = postgres_backends(database_url)
        before = {group: cpu_seconds(pids) for group, pids in groups.items()}
        started = time.monotonic()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=self.options.duration + 60)
        elapsed = time.monotonic() - started
        used = {group: (cpu_seconds(pids) - before[group]) / elapsed
                for group, pids in groups.items()}
        if done.returncode != 0 or not out.exists():
            raise BenchError(f"py-spy failed: {done.stdout.decode(errors='replace')[-2000:]}")
        cpu = ", ".join(f"{group} {cores:.2f}" for group, cores in used.items())
        packed = out.with_suffix(".txt.gz")
        packed.write_bytes(gzip.compress(out.read_bytes()))
        out.unlink()
        return packed, (f"CPU used while sampled, in cores of {os.cpu_count()}: {cpu}; "
                     f"load average {os.getloadavg()[0]:.1f}.")

    def under_load(self, base: str, child: Child, name: str, database_url: str,
                   kind: str = "closed") -> tuple[Path, dict[str, Any]]:
        """Closed-loop publishing for the whole recording (single messages, or batches of
        100 with `kind="batch"`, 4 in flight); returns the profile and what the generators
        achieved meanwhile (messages/s)."""
        app_url = f"{base}/api/v1/app/{self.create_app(base)}/msg"
        seconds = WARM_UP + self.options.duration + 5
        if kind == "batch":
            specs = self.publish_specs("batch", app_url + "/batch", 100_000_000,
                                       self.args.batch_in_flight, seconds)
        else:
            specs = self.publish_specs("closed", app_url, 10_000_000, self.args.in_flight,
                                       seconds)
        progress = self.mp.Value("q", 0)
        results = self.mp.Queue()
        procs = [self.mp.Process(target=loadgen.run, args=(spec, progress, results),
                                 daemon=True) for spec in specs]
        try:
            for proc in procs:
                proc.start()
            time.sleep(WARM_UP)
            before, started = progress.value, time.time()
            path, cpu = self.sample(child, name, database_url,
                                    {"load generators": [p.pid for p in procs if p.pid]})
            rate = (progress.value - before) / (time.time() - started)
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
        return path, {"publish_per_s": rate, "accepted": progress.value, "cpu": cpu}

    def publish_and_deliver(self, database: str, scenarios: set[str]) -> list[str]:
        reports = []
        with scratch_database(database, self.args.postgres_url, self.work_dir) as url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            serve = start_serve(self.children, url, self.work_dir, port, worker=False)
            try:
                path, seen = self.under_load(base, serve, f"{database}-publish", url)
            finally:
                serve.stop()
            if "publish" in scenarios:
                reports.append(summarise(path, f"{database}, publish (serve --no-worker, "
                                               f"{self.args.in_flight} in flight): "
                                               f"{seen['publish_per_s']:,.0f} msg/s while "
                                               "sampled", seen["cpu"]))
            if "deliver" in scenarios:
                self.reset_receiver()
                worker = start_worker(self.children, url, self.work_dir)
                started = time.time()
                try:
                    path, cpu = self.sample(worker, f"{database}-deliver", url, {})
                finally:
                    worker.stop()
                got = self.received()
                rate = got["count"] / max(min(got["last"], started + self.options.duration)
                                          - started, 1e-9)
                reports.append(summarise(path, f"{database}, deliver (1 worker draining "
                                               f"{seen['accepted'] * self.args.endpoints:,} "
                                               f"deliveries): {got['count']:,} delivered, "
                                               f"about {rate:,.0f}/s", cpu))
        return reports

    def profile_batch(self, database: str) -> str:
        """`serve --no-worker` under batch publishes, on a database of its own."""
        with scratch_database(database, self.args.postgres_url, self.work_dir) as url:
            port = free_port()
            serve = start_serve(self.children, url, self.work_dir, port, worker=False)
            try:
                path, seen = self.under_load(f"http://127.0.0.1:{port}", serve,
                                             f"{database}-batch", url, kind="batch")
            finally:
                serve.stop()
        return summarise(path, f"{database}, batch publish (serve --no-worker, 100 a request, "
                               f"{self.args.batch_in_flight} in flight): "
                               f"{seen['publish_per_s']:,.0f} msg/s while sampled", seen["cpu"])

    def profile_end_to_end(self, database: str) -> str:
        with scratch_database(database, self.args.postgres_url, self.work_dir) as url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            serve = start_serve(self.children, url, self.work_dir, port)
            try:
                self.reset_receiver()
                started = time.time()
                path, seen = self.under_load(base, serve, f"{database}-e2e", url)
                got = self.received()
            finally:
                serve.stop()
        rate = got["count"] / max(time.time() - started, 1e-9)
        return summarise(path, f"{database}, end to end (serve with its worker, "
                               f"{self.args.in_flight} in flight): {seen['publish_per_s']:,.0f}"
                               f" msg/s published while sampled, about {rate:,.0f} deliveries/s",
                         seen["cpu"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--database", choices=["sqlite", "postgres", "both"], default="both")
    add("--scenarios", default=",".join(SCENARIOS))
    add("--duration", type=float, default=20.0, help="seconds sampled per scenario")
    add("--rate", type=int, default=250, help="samples per second")
    add("--endpoints", type=int, default=3)
    add("--in-flight", type=int, default=16)
    add("--generators", type=int, default=2)
    add("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    add("--output", type=Path, default=PROFILES)
    add("--native", action="store_true", help="also sample C frames (uvloop, Cython, syscalls)")
    args = parser.parse_args()
    scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    args.output.mkdir(parents=True, exist_ok=True)
    reports: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hookline-profile-") as tmp, \
            Children(Path(tmp)) as children:
        try:
            profiler = Profiler(args, children, Path(tmp))
            for database in databases:
                if scenarios & {"publish", "deliver"}:
                    reports += profiler.publish_and_deliver(database, scenarios)
                if "batch" in scenarios:
                    reports.append(profiler.profile_batch(database))
                if "e2e" in scenarios:
                    reports.append(profiler.profile_end_to_end(database))
        except KeyboardInterrupt:
            print("\ninterrupted; every process stopped", file=sys.stderr)
            return 130
        except (BenchError, OSError) as exc:  # OSError: a child died under us (Ctrl-C)
            print(f"\nprofiling failed: {exc}; every process stopped", file=sys.stderr)
            return 1
    text = "\n\n".join(reports)
    print(text)
    (args.output / "SUMMARY.md").write_text(
        "# Profiles (py-spy, `bench/profile_server.py`)\n\n" + SUMMARY_NOTE + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
