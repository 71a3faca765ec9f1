"""How many round trips to PostgreSQL one publish and one delivery cost, and how much CPU.

A counting TCP relay sits between Hookline and PostgreSQL: each burst the client writes is one
round trip (asyncpg pipelines what it can, so a burst is one wait for the server). It runs
`serve --no-worker` and publishes N messages over HTTP, then one `hookline worker` delivers
them, and divides each side's bursts, and each process's CPU time, by the count. Round trips
do not depend on machine load; CPU time does a little (cache misses, migrations).

    .venv/bin/python bench/round_trips.py --messages 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness import Harness
from processes import (
    Children,
    cpu_seconds,
    free_port,
    scratch_database,
    start_serve,
    start_worker,
)
from throughput import parse_args

READ_SIZE = 1 << 16


class CountingRelay:
    """Loopback TCP relay to PostgreSQL that counts the client's writes (bursts)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.bursts = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       counted: bool) -> None:
            try:
                while data := await src.read(READ_SIZE):
                    if counted:
                        self.bursts += 1
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def take(self) -> int:
        """Bursts since the last call."""
        count, self.bursts = self.bursts, 0
        return count


def via_relay(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = (f"{parts.username}@" if parts.username else "") + f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get(
        "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    options = parser.parse_args()
    args = parse_args(["--endpoints", str(options.endpoints), "--messages",
                       str(options.messages), "--postgres-url", options.postgres_url])
    with tempfile.TemporaryDirectory(prefix="hookline-trips-") as tmp, \
            Children(Path(tmp)) as children, \
            scratch_database("postgres", options.postgres_url, Path(tmp)) as url:
        bench = Harness(args, children, Path(tmp))
        relay = CountingRelay(urlsplit(url).port or 5432)
        relayed = via_relay(url, relay.port)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = start_serve(children, relayed, Path(tmp), port, worker=False)
        app_url = f"{base}/api/v1/app/{bench.create_app(base)}/msg"
        time.sleep(1.5)  # let start-up queries finish before counting
        relay.take()
        cpu_before = cpu_seconds([serve.pid])
        phase = bench.drive(bench.publish_specs("closed", app_url, options.messages, 16, 120),
                            "publish", 0, 120)
        publish_cpu = cpu_seconds([serve.pid]) - cpu_before
        publish_bursts = relay.take()
        serve.stop()
        relay.take()
        bench.reset_receiver()
        worker = start_worker(children, relayed, Path(tmp))
        cpu_before = cpu_seconds([worker.pid])
        expected = phase.accepted * options.endpoints
        bench.wait_for_deliveries(expected, "deliver", 120)
        time.sleep(1.0)  # the last results are recorded after their answers arrive
        deliver_cpu = cpu_seconds([worker.pid]) - cpu_before
        worker.stop()
        deliver_bursts = relay.take()
    print(f"publish: {publish_bursts / max(phase.accepted, 1):.1f} round trips to PostgreSQL "
          f"per message ({phase.accepted} messages, single-message requests, admin token); "
          f"serve used {1000 * publish_cpu / max(phase.accepted, 1):.2f} ms of CPU per message")
    print(f"deliver: {deliver_bursts / max(expected, 1):.2f} round trips per delivery "
          f"({expected} deliveries, one worker, including its idle polls); the worker used "
          f"{1000 * deliver_cpu / max(expected, 1):.2f} ms of CPU per delivery")
    return 0


if __name__ == "__main__":
    sys.exit(main())
