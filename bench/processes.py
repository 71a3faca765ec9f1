"""The processes a benchmark run starts, and the guarantee that it stops every one of them.

`Children` is a context manager: whatever happens inside (an error, Ctrl-C, SIGTERM), every
process it started is sent SIGTERM, then SIGKILL if it lingers. Databases made for a run are
dropped the same way (`scratch_database`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ADMIN_TOKEN = "bench-admin-token"
STOP_GRACE = 15.0


class BenchError(RuntimeError):
    """A process or service the benchmark needs did not behave."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not start:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def stop(self, grace: float = STOP_GRACE) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Children:
    """Every child process of a run; all stopped when the `with` block ends, however."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self._previous_sigterm: Any = None

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Child:
        log_path = self.log_dir / f"{name}-{len(self.children)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            with contextlib.suppress(Exception):
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            with contextlib.suppress(Exception):
                child.stop()
        self.children.clear()

    def __enter__(self) -> Children:
        self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
        signal.signal(signal.SIGTERM, self._previous_sigterm)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def hookline_env(database_url: str, data_dir: Path, port: int | None = None,
                 **extra: str) -> dict[str, str]:
    """The environment of a `hookline` child: its own database and keys, loopback egress."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    env.update({
        "HOOKLINE_DATABASE_URL": database_url,
        "HOOKLINE_SECRET_KEY": "bench-secret-key",
        "HOOKLINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "HOOKLINE_DATA_DIR": str(data_dir),
        "HOOKLINE_EGRESS_ALLOW": "127.0.0.0/8",
        "HOOKLINE_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    if port is not None:
        env["HOOKLINE_PORT"] = str(port)
    env.update(extra)
    return env


def start_serve(children: Children, database_url: str, data_dir: Path, port: int, *,
                worker: bool = True, name: str = "serve",
                worker_processes: int | None = None, api_processes: int | None = None,
                env: dict[str, str] | None = None) -> Child:
    """`hookline serve`, answering; `env`: more HOOKLINE_ settings (retention, purge...)."""
    argv = [sys.executable, "-m", "hookline.cli", "serve"] + ([] if worker else ["--no-worker"])
    if worker_processes is not None:
        argv += ["--worker-processes", str(worker_processes)]
    if api_processes is not None:
        argv += ["--api-processes", str(api_processes)]
    child = children.start(name, argv, hookline_env(database_url, data_dir, port, **(env or {})))
    child.wait_for_output("is running at", timeout=60)
    wait_until_answers(child, f"http://127.0.0.1:{port}/api/v1/health")
    return child


def start_worker(children: Children, database_url: str, data_dir: Path,
                 name: str = "worker", env: dict[str, str] | None = None) -> Child:
    argv = [sys.executable, "-m", "hookline.cli", "worker"]
    child = children.start(name, argv, hookline_env(database_url, data_dir, **(env or {})))
    child.wait_for_output("delivering from", timeout=60)
    return child


def start_receiver(children: Children, port: int, secret: str) -> Child:
    env = {**os.environ, "BENCH_SECRET": secret, "PYTHONUNBUFFERED": "1"}
    child = children.start("receiver", [sys.executable, str(HERE / "receiver.py"), str(port)],
                           env)
    wait_until_answers(child, f"http://127.0.0.1:{port}/_progress")
    return child


def wait_until_answers(child: Child, url: str, timeout: float = 30.0) -> None:
    """Poll `url` until it answers (the socket is bound only after start-up logs say so)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_json("GET", url)
            return
        except (OSError, BenchError):
            if child.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{child.name} did not start:\n{child.output()}") from None
            time.sleep(0.05)


def http_json(method: str, url: str, body: Any = None, token: str | None = None,
              timeout: float = 30.0) -> Any:
    """One JSON request over loopback (set-up and polling; the load itself uses aiohttp)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{method} {url}: {exc.code} {exc.read()[:500]!r}") from None
    return json.loads(raw) if raw and raw[:1] in b"{[" else raw


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scratch_database(kind: str, postgres_url: str, work_dir: Path) -> Iterator[str]:
    """A database URL of `kind` that exists only for the `with` block."""
    name = "bench_" + uuid.uuid4().hex[:10]
    if kind == "sqlite":
        yield f"sqlite:///{work_dir / (name + '.db')}"
        return
    asyncio.run(admin_statement(postgres_url, f"CREATE DATABASE {name}"))
    try:
        yield with_database(postgres_url, name)
    finally:
        asyncio.run(admin_statement(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def admin_statement(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (Linux /proc); gone ones count 0."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def postgres_backends(database_url: str) -> list[int]:
    """Server process ids of the connections to the database in `database_url`."""
    from urllib.parse import urlsplit

    name = urlsplit(database_url).path.lstrip("/")

    async def query() -> list[int]:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 "
                                    "AND pid <> pg_backend_pid()", name)
        finally:
            await conn.close()
        return [int(row["pid"]) for row in rows]

    return asyncio.run(query())
