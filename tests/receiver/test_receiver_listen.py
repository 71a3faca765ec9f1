"""`python -m hookline.receiver.listen`, run for real: verifies, prints one line per event,
answers 204 or 401, forwards accepted requests, and stops cleanly on a signal."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from hookline.receiver import sign
from tests.receiver.support import (
    DEADLINE,
    SECRET,
    Child,
    child,
    child_env,
    post,
    recording_receiver,
)

BODY = json.dumps({"type": "invoice.paid", "data": {"invoice": "inv_42"}}).encode()


@dataclass
class RunningListener:
    url: str
    process: Child

    def line_for(self, event_id: str) -> str:
        return self.process.stdout.wait_for(lambda line: f"id={event_id}" in line)


StartListener = Callable[..., RunningListener]


@pytest.fixture
def start_listener() -> Iterator[StartListener]:
    """Start the listener with extra arguments on a free port (it prints the address)."""
    with ExitStack() as running:

        def start(*args: str) -> RunningListener:
            command = ["-m", "hookline.receiver.listen", "--port", "0", *args]
            process = running.enter_context(child(command, child_env()))
            banner = process.stdout.wait_for(lambda line: line.startswith("Listening on"))
            url = re.search(r"http://127\.0\.0\.1:\d+/", banner)
            assert url, banner
            return RunningListener(url.group(0), process)

        yield start


def test_a_signed_request_gets_204_and_a_verified_summary_line(
    start_listener: StartListener,
) -> None:
    listener = start_listener("--secret", SECRET)
    headers = sign(BODY, SECRET, msg_id="msg_good")

    answer = post(listener.url, BODY, headers)

    assert answer.status == 204
    line = listener.line_for("msg_good")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d  POST /  invoice\.paid  id=msg_good  "
                    rf"verified  {len(BODY)} bytes$", line), line


def test_a_badly_signed_request_gets_401_and_a_not_verified_line(
    start_listener: StartListener,
) -> None:
    listener = start_listener("--secret", SECRET)
    headers = sign(BODY, SECRET, msg_id="msg_forged")

    answer = post(listener.url, BODY.replace(b"42", b"43"), headers)

    assert answer.status == 401
    assert json.loads(answer.body)["error"] == "bad_signature"
    assert "NOT VERIFIED (bad_signature)" in listener.line_for("msg_forged")


def test_without_a_secret_every_request_is_accepted_and_marked_unverified(
    start_listener: StartListener,
) -> None:
    listener = start_listener()

    answer = post(listener.url, b'{"event":"contact.created","id":"evt_9"}', {})

    assert answer.status == 204
    line = listener.line_for("evt_9")
    assert "contact.created" in line and "unverified (no secret)" in line


def test_a_hex_scheme_with_a_custom_header_is_verified(start_listener: StartListener) -> None:
    listener = start_listener("--secret", "a little secret", "--scheme", "hmac-sha512-hex",
                              "--header", "Smile-Signature")
    body = b'{"id":"evt_smile","eventType":"order.created"}'
    headers = sign(body, "a little secret", "hmac-sha512-hex", header="Smile-Signature")
    del headers["webhook-id"]

    answer = post(listener.url, body, headers)

    assert answer.status == 204
    line = listener.line_for("evt_smile")
    assert "order.created" in line and "  verified  " in line


def test_accepted_requests_are_forwarded_raw_with_their_headers_and_refused_ones_are_not(
    start_listener: StartListener,
) -> None:
    with recording_receiver() as app:
        listener = start_listener("--secret", SECRET, "--forward-to", app.url)
        forged = sign(BODY, SECRET, msg_id="msg_not_forwarded")
        good = sign(BODY, SECRET, msg_id="msg_forwarded")

        post(listener.url, BODY + b" ", forged)
        post(listener.url, BODY, good)
        line = listener.line_for("msg_forwarded")

        assert "forwarded -> 200" in line
        [received] = app.requests
    assert (received.method, received.path) == ("POST", "/hooks/in?src=listen")
    assert received.body == BODY
    assert {k: received.headers[k] for k in good} == good


def test_a_forward_target_that_is_down_is_reported_and_the_sender_still_gets_204(
    start_listener: StartListener,
) -> None:
    listener = start_listener("--forward-to", "http://127.0.0.1:9/")  # discard port: refused

    answer = post(listener.url, BODY, sign(BODY, SECRET, msg_id="msg_lost"))

    assert answer.status == 204
    assert "forward FAILED" in listener.line_for("msg_lost")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_listener_exits_cleanly_on_a_signal(
    start_listener: StartListener, stop: signal.Signals
) -> None:
    listener = start_listener("--secret", SECRET)

    listener.process.process.send_signal(stop)

    assert listener.process.process.wait(DEADLINE) == 0
    listener.process.stdout.wait_for(lambda line: line == "Stopped.")
    assert not [line for line in listener.process.stderr.lines if "Traceback" in line]


def test_an_unusable_secret_is_reported_before_listening() -> None:
    with child(["-m", "hookline.receiver.listen", "--port", "0", "--secret", "whsec_%%%"],
               child_env()) as process:
        assert process.process.wait(DEADLINE) == 2
        process.stderr.wait_for(lambda line: "malformed_secret" in line)
