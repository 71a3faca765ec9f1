"""Chaos: an application writes events in transactions (some rolled back) while two relay
processes share its outbox and the leader is SIGKILLed again and again, once with relays that
publish over the batch route (`--to`) and once with relays that publish straight into
Hookline's database (its service layer in the relay's process). Afterwards every
committed event reached the receiver as exactly one Hookline message, no rolled-back one did,
and each ordering key's events arrived in the order they were committed.

`make test` runs a small version; `make outbox-chaos` the full one (5,000 events, five kills).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from hookline.relay import outbox_backlog
from tests.outbox.conftest import Hookline
from tests.support.api import ADMIN_TOKEN
from tests.support.polling import wait_until, wait_while_progressing
from tests.support.processes import HOOKLINE, hookline_env

pytestmark = pytest.mark.asyncio(loop_scope="module")
EVENTS = int(os.environ.get("OUTBOX_CHAOS_EVENTS", "300"))
KILLS = int(os.environ.get("OUTBOX_CHAOS_KILLS", "2"))
KILL_EVERY = 1.0  # seconds between kills, while the application writes
KEYS = 20
STALL = 30.0  # a loaded machine is slow, not stuck: fail when nothing moves this long


class Relay:
    """`hookline relay` as a child process, its log in a file: over HTTP (`path` "http"), or
    into Hookline's database with Hookline's own settings ("direct")."""

    def __init__(self, app_db: str, hookline: Hookline, log: Path, path: str) -> None:
        self.log = log
        argv = [str(HOOKLINE), "relay", "--source", app_db]
        if path == "http":
            argv += ["--to", hookline.api.base_url]
            env = hookline_env(relay_token=ADMIN_TOKEN, outbox_poll_interval="0.2")
        else:
            env = hookline_env(hookline.settings, outbox_poll_interval="0.2")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def leads(self) -> bool:
        return b"is the leader" in self.log.read_bytes()

    def reading(self) -> bool:
        return b"relay reading" in self.log.read_bytes()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.mark.parametrize("path", ["http", "direct"])
async def test_killed_relays_lose_nothing_send_nothing_twice_and_keep_key_order(
        app_db: str, hookline: Hookline, tmp_path: Path, path: str) -> None:
    rate = EVENTS / (KILLS * KILL_EVERY + 1.0)
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.outbox.chaos_app", app_db, str(EVENTS), str(rate),
        str(KEYS), path, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    generation = 0
    relays = [Relay(app_db, hookline, tmp_path / f"relay-{n}-0.log", path) for n in range(2)]
    try:
        for kill in range(KILLS):
            await wait_until(lambda: any(r.leads() for r in relays), 30, "a leader")
            await asyncio.sleep(KILL_EVERY)  # let the leader work, then kill it mid-stride
            generation += 1
            index = next(n for n, r in enumerate(relays) if r.leads())
            relays[index].kill()
            relays[index] = Relay(app_db, hookline,
                                  tmp_path / f"relay-{index}-{generation}.log", path)
            # The other relay takes over; the next kill waits for this one to stand by.
            if kill < KILLS - 1:
                await wait_until(relays[index].reading, 60, "the restarted relay")
        out, _ = await app.communicate()
        committed = int(out.decode().split()[-1])

        await wait_while_progressing(lambda: len(hookline.events(path)), committed, STALL,
                                     "committed events delivered")
        await wait_until(lambda: _backlog_empty(app_db), 10, "an empty outbox")
    finally:
        for relay in relays:
            relay.kill()

    deliveries = hookline.deliveries(path)
    events = [event for event, _ in deliveries]
    assert committed == EVENTS
    assert not [e for e in events if e["rolled_back"]]
    messages_per_event = defaultdict(set)
    for event, message_id in deliveries:
        messages_per_event[event["uid"]].add(message_id)
    assert len(messages_per_event) == committed  # every committed event arrived ...
    assert {len(ids) for ids in messages_per_event.values()} == {1}  # ... as one message
    assert len(events) == committed  # and was delivered once
    by_key = defaultdict(list)
    for event in events:
        by_key[event["key"]].append(event["n"])
    assert all(ns == list(range(len(ns))) for ns in by_key.values()), json.dumps(by_key)


async def _backlog_empty(url: str) -> bool:
    return (await outbox_backlog(url)).pending == 0
