"""Hookline's own commands as real processes, for tests that need a process boundary (memory
of a worker, everything a server prints)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

HOOKLINE = Path(sys.executable).with_name("hookline")


def hookline_env(**settings: str) -> dict[str, str]:
    """The current environment without any HOOKLINE_* variable, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    env.update({f"HOOKLINE_{name.upper()}": value for name, value in settings.items()})
    return env


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
