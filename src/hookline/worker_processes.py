"""The process layout of `hookline serve`: its delivery worker in-process, or in processes of
its own beside the API.

Python runs one thread of Python at a time, so an API and a worker sharing a process share one
core. With PostgreSQL, `serve` starts `hookline worker` children (woken by NOTIFY, leased
claims, so they need no coordination); with SQLite the worker stays in the API's process,
where a publish wakes it at once (SQLite has no NOTIFY to wake another process).
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


def _exit_with_parent() -> None:
    """Runs in the child before exec: a worker whose `serve` died gets SIGTERM (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


class WorkerProcesses:
    """`count` `hookline worker` children of this process, restarted when one exits on its own
    and stopped (SIGTERM, then SIGKILL after the grace period) with `stop`."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self._children: list[subprocess.Popen[bytes]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "HOOKLINE_DATABASE_URL": self.settings.database_url}
        if self.settings.metrics_dir is not None:  # their counters reach serve's /metrics
            env["HOOKLINE_METRICS_DIR"] = str(self.settings.metrics_dir)
        return subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", "worker"], env=env,
            preexec_fn=_exit_with_parent)

    async def start(self) -> None:
        self._children = [self._spawn() for _ in range(self.count)]
        self._watcher = asyncio.create_task(self._watch(), name="hookline-worker-processes")

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RESTART_DELAY)
            for index, child in enumerate(self._children):
                if child.poll() is not None and not self._stopping:
                    log.warning("worker process %d exited with %s; starting it again",
                                child.pid, child.returncode)
                    metrics.process_exited(child.pid)
                    self._children[index] = self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = self.settings.shutdown_grace + STOP_MARGIN
        for child in self._children:
            try:
                await asyncio.wait_for(asyncio.to_thread(child.wait), deadline)
            except TimeoutError:
                log.warning("worker process %d did not stop; killing it", child.pid)
                child.kill()
                await asyncio.to_thread(child.wait)
            metrics.process_exited(child.pid)
