"""The process layout of `hookline serve`: its delivery worker in-process, or in processes of
its own beside the API; and the API itself in one process or several sharing one socket.

Python runs one thread of Python at a time, so an API and a worker sharing a process share one
core. With PostgreSQL, `serve` starts `hookline worker` children (woken by NOTIFY, leased
claims, so they need no coordination); with SQLite the worker stays in the API's process,
where a publish wakes it at once (SQLite has no NOTIFY to wake another process).

More API processes (`api_processes`) are children that inherit the listening socket `serve`
bound: the kernel hands each connection to one of them. Whatever they cache is checked against
the database's version counters on use, as between any two `serve` on one database.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys

from . import metrics
from .config import Settings

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0  # seconds before a worker that exited on its own is started again
READY_TIMEOUT = 60.0  # seconds serve waits for its other API processes before announcing
STOP_MARGIN = 5.0  # seconds past the shutdown grace before a worker is killed
_PR_SET_PDEATHSIG = 1


def worker_process_count(settings: Settings, cores: int | None = None) -> int:
    """How many worker processes `serve` starts (0: the worker runs inside the API process).

    `worker_processes` when set; otherwise one per two cores on PostgreSQL (at least one), the
    API keeping the rest, and none on SQLite.
    """
    if settings.worker_processes is not None:
        return max(settings.worker_processes, 0)
    if not settings.database_url.startswith(("postgres://", "postgresql://")):
        return 0
    return max((cores or os.cpu_count() or 1) // 2, 1)


def api_process_count(settings: Settings, cores: int | None = None) -> int:
    """How many processes serve the API (at least one: `serve`'s own).

    `api_processes` when set; otherwise one per two cores on PostgreSQL, the worker processes
    keeping the rest, and one on SQLite: there the worker runs in `serve`'s process and only a
    publish answered by that process wakes it at once (another process's waits for a poll).
    """
    if settings.api_processes is not None:
        return max(settings.api_processes, 1)
    if not settings.database_url.startswith(("postgres://", "postgresql://")):
        return 1
    return max((cores or os.cpu_count() or 1) // 2, 1)


def _exit_with_parent() -> None:
    """Runs in the child before exec: a child whose `serve` died gets SIGTERM (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


class ChildProcesses:
    """`count` `hookline` children of this process running `args`, restarted when one exits
    on its own and stopped (SIGTERM, then SIGKILL after the grace period) with `stop`."""

    kind = "child"

    def __init__(self, settings: Settings, count: int, args: list[str],
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.settings = settings
        self.count = count
        self.args = args
        self.pass_fds = pass_fds
        self._children: list[subprocess.Popen[bytes]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "HOOKLINE_DATABASE_URL": self.settings.database_url}
        if self.settings.metrics_dir is not None:  # their counters reach serve's /metrics
            env["HOOKLINE_METRICS_DIR"] = str(self.settings.metrics_dir)
        return subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", *self.args], env=env,
            pass_fds=self.pass_fds, preexec_fn=_exit_with_parent)

    async def start(self) -> None:
        self._children = [self._spawn() for _ in range(self.count)]
        self._watcher = asyncio.create_task(self._watch(), name=f"hookline-{self.kind}-processes")

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RESTART_DELAY)
            for index, child in enumerate(self._children):
                if child.poll() is not None and not self._stopping:
                    log.warning("%s process %d exited with %s; starting it again",
                                self.kind, child.pid, child.returncode)
                    metrics.process_exited(child.pid)
                    self._children[index] = self._spawn()

    def signal_stop(self) -> None:
        """Send every child SIGTERM now (they stop on their own); `stop` waits for them."""
        self._stopping = True
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        self.signal_stop()
        if self._watcher is not None:
            self._watcher.cancel()
        deadline = self.settings.shutdown_grace + STOP_MARGIN
        for child in self._children:
            try:
                await asyncio.wait_for(asyncio.to_thread(child.wait), deadline)
            except TimeoutError:
                log.warning("%s process %d did not stop; killing it", self.kind, child.pid)
                child.kill()
                await asyncio.to_thread(child.wait)
            metrics.process_exited(child.pid)


class WorkerProcesses(ChildProcesses):
    """`count` `hookline worker` children."""

    kind = "worker"

    def __init__(self, settings: Settings, count: int) -> None:
        super().__init__(settings, count, ["worker"])


class ApiProcesses(ChildProcesses):
    """`count` more API processes serving the listening socket `fd` this process bound (the
    hidden `hookline api-process` command); `workers`: how many worker processes `serve`
    started, which their readiness checks for, as `serve`'s own does.

    Each child writes one byte to a pipe once its application has started, so `serve` can
    announce itself when every API process answers (`wait_ready`)."""

    kind = "API"

    def __init__(self, settings: Settings, count: int, fd: int, workers: int) -> None:
        self._ready_read, ready_write = os.pipe() if count else (-1, -1)
        super().__init__(settings, count,
                         ["api-process", "--fd", str(fd), "--workers", str(workers),
                          "--ready-fd", str(ready_write)], (fd, ready_write))

    async def wait_ready(self) -> None:
        """Until every child has started its application (a warning after READY_TIMEOUT)."""
        if not self.count:
            return
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        remaining = self.count

        def readable() -> None:
            nonlocal remaining
            remaining -= len(os.read(self._ready_read, remaining))
            if remaining <= 0 and not started.done():
                started.set_result(None)

        loop.add_reader(self._ready_read, readable)
        try:
            await asyncio.wait_for(started, READY_TIMEOUT)
        except TimeoutError:
            log.warning("not every API process started within %g s", READY_TIMEOUT)
        finally:
            loop.remove_reader(self._ready_read)


def tell_ready(fd: int) -> None:
    """In an API child: its application has started (see `ApiProcesses`)."""
    os.write(fd, b"1")
    os.close(fd)
