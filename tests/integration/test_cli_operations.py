"""The CLI as operators meet it: every failure is one line and a non-zero exit, `hookline
status --json` reports the queue, and JSON logs are one object per line with no secret."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from tests.support.api import make_settings
from tests.support.polling import wait_until
from tests.support.processes import HOOKLINE, hookline_env
from tests.support.receiver import Receiver

SECRET_KEY = "cli-test-secret-key-0123456789"
ADMIN = "hl_admin_cli-test-admin-token-abcdef"


def run(args: list[str], tmp_path: Path, timeout: float = 30, **env: str) -> \
        subprocess.CompletedProcess[str]:
    return subprocess.run([str(HOOKLINE), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path,
                          env=hookline_env(None, secret_key=SECRET_KEY, **env))


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert len(output.splitlines()) == 1, output
    assert output.startswith("Error: ") and "Traceback" not in output
    for word in words:
        assert word in output


@pytest.fixture
def missing_database(postgres_url: str) -> str:
    base, _, _ = postgres_url.partition("?")
    return base.rsplit("/", 1)[0] + "/hl_missing_" + uuid.uuid4().hex[:8]


@pytest.mark.parametrize("command", ["migrate", "worker", "serve"])
def test_a_missing_postgres_database_is_one_line(command: str, missing_database: str,
                                                 tmp_path: Path) -> None:
    result = run([command, "--database-url", missing_database], tmp_path)

    assert_one_line_failure(result, "does not exist")


def test_a_closed_database_port_is_one_line_for_serve(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(["serve", "--database-url", f"postgresql://postgres@127.0.0.1:{port}/x"],
                 tmp_path)

    assert_one_line_failure(result, "cannot connect to PostgreSQL")


def test_a_sqlite_path_without_its_directory_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = run(["migrate", "--database-url", f"sqlite:///{missing}/x.db"], tmp_path)

    assert_one_line_failure(result, "does not exist")
    assert not (tmp_path / "no").exists()


def test_serve_refuses_a_port_in_use_before_its_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--port", str(port), "--database-url",
                      f"sqlite:///{tmp_path}/h.db"], tmp_path)

    assert_one_line_failure(result, "Address already in use")
    assert "running" not in result.stdout


async def test_status_json_reports_a_known_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    runtime = await Runtime.start(make_settings(url, tmp_path, secret_key=SECRET_KEY),
                                  with_worker=False)
    try:
        svc = runtime.service
        app = await svc.create_app("status")
        await svc.create_endpoint(app.id, url="http://127.0.0.1:9/a")
        await svc.create_endpoint(app.id, url="http://127.0.0.1:9/b")
        for n in range(3):
            await svc.publish(app.id, "order.created", {"n": n})
    finally:
        await runtime.stop()

    result = run(["status", "--json", "--database-url", url], tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["queue"] == {"due": 6, "scheduled": 0, "leased": 0}
    assert report["endpoints"] == {"enabled": 2, "disabled": 0}
    assert report["workers"] == [] and report["last_purge"] is None
    assert report["oldest_due_age"] >= 0


async def test_json_logs_are_one_object_per_line_with_ids_and_without_secrets(
        tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    runtime = await Runtime.start(make_settings(url, tmp_path, secret_key=SECRET_KEY),
                                  with_worker=False)
    try:
        svc = runtime.service
        app = await svc.create_app("logs")
        ok = await svc.create_endpoint(app.id, url=receiver.url("/ok"))
        down = await svc.create_endpoint(app.id, url=receiver.url("/down"),
                                         options=DeliveryOptions(retry_schedule=[3600]))
        secrets = [(await svc.get_endpoint(app.id, ep.id)).secret for ep in (ok, down)]
        message = (await svc.publish(app.id, "order.created", {"id": 1})).message
    finally:
        await runtime.stop()
    receiver.statuses["/down"] = [500]
    log_path = tmp_path / "worker.log"
    env = hookline_env(None, secret_key=SECRET_KEY, admin_token=ADMIN, log_format="json",
                       log_level="debug", database_url=url, poll_interval="0.1",
                       egress_allow="127.0.0.0/8")
    with open(log_path, "w") as log:
        worker = subprocess.Popen([str(HOOKLINE), "worker"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
    try:
        await receiver.wait_for(2, timeout=30)  # the worker starts first: a busy machine is slow

        def attempt_lines() -> list[dict[str, Any]]:
            entries = [json.loads(line) for line in log_path.read_text().splitlines()]
            return [e for e in entries if e["logger"] == "hookline.delivery.attempts"]

        lines = await wait_until(lambda: len(attempt_lines()) == 2 and attempt_lines(),
                                 what="a log line for each attempt")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)

    output = log_path.read_text()
    entries = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any("started" in e["message"] and e.get("worker") for e in entries)
    by_endpoint = {e["endpoint_id"]: e for e in lines}
    assert (by_endpoint[ok.id]["level"], by_endpoint[down.id]["level"]) == ("debug", "info")
    for entry in lines:
        assert entry["app_id"] == app.id and entry["message_id"] == message.id
        assert entry["attempt_id"].startswith("atmpt_") and entry["worker"]
        assert entry["delivery_id"]
    for secret in (SECRET_KEY, ADMIN, *secrets):
        assert secret not in output


def test_database_unreachable_worker_waits_and_logs_json_lines(tmp_path: Path) -> None:
    """The worker keeps waiting for a database that is down (it may be starting), saying so
    in JSON, with the URL's password masked."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = hookline_env(None, secret_key=SECRET_KEY, log_format="json",
                       database_url=f"postgresql://hook:s3cr3t-pw@127.0.0.1:{port}/x")
    worker = subprocess.Popen([str(HOOKLINE), "worker"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        entry = json.loads(worker.stderr.readline())
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)

    assert entry["level"] == "warning" and "database unavailable" in entry["message"]
    assert "s3cr3t-pw" not in json.dumps(entry)


