"""Real things for receiver tests: child processes whose output can be awaited, loopback HTTP,
a recording receiver, and servers run in a thread. No sleeps to wait: poll with a deadline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
EXAMPLES = REPO / "examples"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DEADLINE = 15.0


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def child_env(**extra: str) -> dict[str, str]:
    """The current environment, with `src/` importable and output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Lines:
    """Collects a stream's lines on a thread; tests wait for the line they expect."""

    def __init__(self, stream: Any) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self._lines if predicate(line)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching line within {timeout}s in {self._lines}")
                self._changed.wait(remaining)

    def count(self, predicate: Callable[[str], bool]) -> int:
        return sum(1 for line in self.lines if predicate(line))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@dataclass
class Child:
    process: subprocess.Popen[str]
    stdout: Lines
    stderr: Lines

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextmanager
def child(args: list[str], env: dict[str, str]) -> Iterator[Child]:
    """Run `python <args>`; stop it (SIGTERM, then SIGKILL) on exit."""
    process = subprocess.Popen(
        [sys.executable, *args], env=env, cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    running = Child(process, Lines(process.stdout), Lines(process.stderr))
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


# Loopback only: never let a proxy from the environment see test traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=DEADLINE) as response:
            return Answer(response.status, response.read(), {k.lower(): v for k, v in
                                                             response.headers.items()})
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), {k.lower(): v for k, v in error.headers.items()})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingReceiver:
    """A loopback HTTP server that answers 200 and remembers every request it got."""

    url: str
    requests: list[Recorded] = field(default_factory=list)


@contextmanager
def recording_receiver() -> Iterator[RecordingReceiver]:
    receiver = RecordingReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.requests.append(Recorded(self.command, self.path, headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/in?src=listen"
        yield receiver


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    """Run a socketserver-style server (`serve_forever`/`shutdown`) in a thread."""
    # A short poll interval: `shutdown` waits for the loop to notice, and tests stop servers often.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE)
