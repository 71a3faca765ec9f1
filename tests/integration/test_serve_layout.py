"""`hookline serve` with its delivery worker in processes of its own: they deliver, and they
stop with the server, even when the server is killed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from hookline.config import Settings
from hookline.runtime import Runtime
from hookline.worker_processes import api_process_count, worker_process_count
from tests.support.api import make_settings
from tests.support.net import free_port
from tests.support.polling import wait_until
from tests.support.processes import HooklineProcess, hookline_env
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, poll_interval=0.1, shutdown_grace=1.0)


async def _serve(settings: Settings, processes: int) -> HooklineProcess:
    env = hookline_env(settings, port=str(free_port()))
    server = HooklineProcess("serve", "--worker-processes", str(processes), env=env)
    await server.start()
    await server.wait_for_output("delivering from", timeout=30)
    return server


def _children(pid: int) -> list[int]:
    """The worker processes among `pid`'s children (API processes are children too)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()
            if b"worker" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


async def _gone(pid: int) -> bool:
    return bool(await wait_until(lambda: not _alive(pid), timeout=15,
                                 what=f"worker process {pid} to exit"))


async def test_serve_with_worker_processes_delivers_through_them_and_stops_them(
    settings: Settings, control: Runtime, receiver: Receiver
) -> None:
    server = await _serve(settings, 2)
    try:
        workers = _children(server.pid)
        assert len(workers) == 2
        app = await control.service.create_app("layout")
        await control.service.create_endpoint(app.id, url=receiver.url("/hook"))
        for n in range(6):
            await control.service.publish(app.id, "a.b", {"n": n})
        await receiver.wait_for(6, "/hook", timeout=20)
    finally:
        await server.stop()
    for worker in workers:
        assert await _gone(worker)
    assert server.stdout.count(b"delivering from") == 2


async def test_worker_processes_stop_when_their_server_is_killed(settings: Settings) -> None:
    server = await _serve(settings, 1)
    workers = _children(server.pid)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    await server.stop()
    assert workers and all([await _gone(worker) for worker in workers])


def test_serve_runs_its_worker_beside_the_api_on_postgresql_and_inside_it_on_sqlite() -> None:
    postgres = Settings(database_url="postgresql://db/hookline")
    sqlite = Settings(database_url="sqlite:///hookline.db")
    assert worker_process_count(postgres, cores=2) == 1
    assert worker_process_count(postgres, cores=8) == 4
    assert worker_process_count(sqlite, cores=8) == 0
    assert worker_process_count(sqlite.with_(worker_processes=2), cores=8) == 2


def test_serve_sizes_its_api_processes_from_the_database_and_the_cores() -> None:
    postgres = Settings(database_url="postgresql://db/hookline")
    sqlite = Settings(database_url="sqlite:///hookline.db")
    assert api_process_count(postgres, cores=2) == 1
    assert api_process_count(postgres, cores=8) == 4
    assert api_process_count(sqlite, cores=8) == 1
    assert api_process_count(sqlite.with_(api_processes=3), cores=8) == 3
    assert api_process_count(postgres.with_(api_processes=0), cores=8) == 1
