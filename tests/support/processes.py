"""Hookline's own commands as real processes: started with the CLI, stopped or killed with
real signals, for tests that need a process boundary (crashes, memory, what a server prints)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from hookline.config import Settings
from tests.support.polling import wait_until_blocking

HOOKLINE = Path(sys.executable).with_name("hookline")


def hookline_env(settings: Settings | None = None, **overrides: str) -> dict[str, str]:
    """The current environment without any HOOKLINE_* variable, plus what a child needs to
    share `settings` (database, keys, egress policy, timing), plus `overrides` by setting name
    (`poll_interval="0.1"` is HOOKLINE_POLL_INTERVAL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    env["PYTHONUNBUFFERED"] = "1"
    shared: dict[str, str] = {}
    if settings is not None:
        shared = {
            "database_url": settings.database_url,
            "secret_key": settings.secret_key or "",
            "admin_token": settings.admin_token or "",
            "data_dir": str(settings.data_dir),
            "egress_allow": ",".join(settings.egress_allow),
            "poll_interval": str(settings.poll_interval),
            "lease_seconds": str(settings.lease_seconds),
            "shutdown_grace": str(settings.shutdown_grace),
        }
    shared.update(overrides)
    env.update({f"HOOKLINE_{name.upper()}": value for name, value in shared.items()})
    return env


class WorkerProcess:
    """`hookline worker` as a child process, its output kept in a log file."""

    def __init__(self, settings: Settings, log_dir: Path, name: str, **overrides: str) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", "worker"],
            env=hookline_env(settings, **overrides), stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_started(self, timeout: float = 15.0) -> None:
        def started() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("worker exited early")
            return b"delivering from" in self.log_path.read_bytes()

        try:
            wait_until_blocking(started, timeout, "the worker to start")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output:\n{self.output()}") from None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class HooklineProcess:
    """`hookline <command>` in its own process; stderr is collected, stdout read on demand."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.stdout = b""
        self.stderr = b""

    async def start(self) -> HooklineProcess:
        self.process = await asyncio.create_subprocess_exec(
            str(HOOKLINE), *self.args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def wait_for_output(self, text: str, timeout: float = 15.0) -> None:
        """Read stdout until a line containing `text` (the command says it is ready)."""
        assert self.process is not None and self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while text.encode() not in self.stdout:
                line = await self.process.stdout.readline()
                if not line:
                    await self.stop()
                    raise AssertionError(f"hookline {self.args[0]} exited: {self.stderr!r}")
                self.stdout += line

    def memory_kib(self, field: str) -> int:
        """A memory figure of the process from /proc (VmRSS now, VmHWM its peak)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not stop within 10 s; collect the output."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = await asyncio.wait_for(self.process.communicate(), 10)
        except TimeoutError:
            self.process.kill()
            out, err = await self.process.communicate()
        self.stdout += out
        self.stderr += err
        assert self.process.returncode is not None
        return self.process.returncode
