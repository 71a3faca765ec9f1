"""Each example app, run as a script, over real loopback HTTP: accepts a signed delivery,
refuses a tampered one with 401, and runs the handler once for a duplicate."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hookline.receiver import sign
from tests.receiver.support import (
    DEADLINE,
    EXAMPLES,
    SECRET,
    Child,
    accepts_connections,
    child,
    child_env,
    post,
)
from tests.support.net import free_port
from tests.support.polling import wait_until_blocking


@dataclass
class RunningExample:
    url: str
    process: Child

    def handled(self, marker: str) -> int:
        """How many times the example's handler printed the event carrying `marker`."""
        return self.process.stdout.count(lambda line: line.startswith("handled") and marker in line)

    def wait_handled(self, marker: str) -> None:
        self.process.stdout.wait_for(lambda line: line.startswith("handled") and marker in line)


@pytest.fixture(scope="module", params=["fastapi", "flask", "django"])
def example(request: pytest.FixtureRequest) -> Iterator[RunningExample]:
    port = free_port()
    script = EXAMPLES / f"{request.param}_receiver.py"
    with child([str(script), str(port)], child_env(HOOKLINE_SECRET=SECRET)) as process:
        wait_until_blocking(
            lambda: accepts_connections(port) or process.process.poll() is not None,
            DEADLINE, f"{script.name} to listen")
        assert process.process.poll() is None, process.stderr.lines
        yield RunningExample(f"http://127.0.0.1:{port}/webhooks", process)


def event(marker: str) -> bytes:
    return json.dumps({"type": "order.paid", "data": {"order": marker}}).encode()


def new_marker() -> str:
    return "ord_" + uuid.uuid4().hex[:12]


def test_a_signed_delivery_is_answered_2xx_and_handled(example: RunningExample) -> None:
    marker = new_marker()
    body = event(marker)

    answer = post(example.url, body, sign(body, SECRET))

    assert 200 <= answer.status < 300
    example.wait_handled(marker)


def test_a_tampered_delivery_is_refused_with_401_and_not_handled(
    example: RunningExample,
) -> None:
    forged, witness = new_marker(), new_marker()
    headers = sign(event(new_marker()), SECRET)

    answer = post(example.url, event(forged), headers)
    post(example.url, event(witness), sign(event(witness), SECRET))
    example.wait_handled(witness)  # output is ordered: the forged one would show before

    assert answer.status == 401
    assert json.loads(answer.body)  # a JSON explanation, e.g. {"detail": {"error": ...}}
    assert example.handled(forged) == 0


def test_a_duplicate_delivery_is_answered_2xx_without_running_the_handler_again(
    example: RunningExample,
) -> None:
    marker, witness = new_marker(), new_marker()
    body = event(marker)
    headers = sign(body, SECRET)

    first = post(example.url, body, headers)
    duplicate = post(example.url, body, headers)
    post(example.url, event(witness), sign(event(witness), SECRET))
    example.wait_handled(witness)

    assert first.status == 204
    assert duplicate.status == 200
    assert example.handled(marker) == 1
