"""Real Hookline processes for crash tests: started with the CLI, killed with real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hookline.config import Settings


def hookline_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment that gives a child process the same database, keys and egress policy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    env.update({
        "HOOKLINE_DATABASE_URL": settings.database_url,
        "HOOKLINE_SECRET_KEY": settings.secret_key or "",
        "HOOKLINE_ADMIN_TOKEN": settings.admin_token or "",
        "HOOKLINE_DATA_DIR": str(settings.data_dir),
        "HOOKLINE_EGRESS_ALLOW": ",".join(settings.egress_allow),
        "HOOKLINE_POLL_INTERVAL": str(settings.poll_interval),
        "HOOKLINE_LEASE_SECONDS": str(settings.lease_seconds),
        "HOOKLINE_SHUTDOWN_GRACE": str(settings.shutdown_grace),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class WorkerProcess:
    """`hookline worker` as a child process, its output kept in a log file."""

    def __init__(self, settings: Settings, log_dir: Path, name: str, **env: str) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", "worker"],
            env=hookline_env(settings, **env), stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_started(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while b"delivering from" not in self.log_path.read_bytes():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{self.output()}")
            time.sleep(0.05)

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
