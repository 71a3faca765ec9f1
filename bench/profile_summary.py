"""Read py-spy's collapsed stacks (`--format raw`) and say where the time went.

Three views of one profile, as percentages of the samples in which the process was busy:
- by layer: each sample goes to the innermost library it was in (asyncpg, pydantic, uvicorn,
  the event loop's C code, Hookline's own Python...), so the layers add up to 100 %;
- by step: the share of samples inside a named step of publishing or delivery (inclusive,
  so steps nest and overlap);
- the top functions by self time, and Hookline's own functions by inclusive time.

    .venv/bin/python bench/profile_summary.py bench/profiles/postgres-publish.txt.gz
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

# py-spy's idle detection does not work in this container (threads blocked in
# `Condition.wait` are reported busy), so waiting is recognised here from the stack: by the
# Python frame a thread waits in, or, with `--native`, by the blocking call itself.
IDLE_PYTHON = ("Condition.wait (threading.py)", "Event.wait (threading.py)",
               "_worker (concurrent/futures/thread.py)", "BaseSelector.select (selectors.py)",
               "EpollSelector.select (selectors.py)")
IDLE_NATIVE = ("epoll_wait", "epoll_pwait", "pthread_cond_wait", "pthread_cond_timedwait",
               "sem_wait", "sem_timedwait", "sem_clockwait", "__futex_abstimed_wait", "poll ",
               "select ")
# Without --native, the event loop's own C code (uvloop: epoll, callbacks) shows as this
# Python frame alone; it is mostly waiting, so it counts as idle there.
LOOP_FRAME = "Runner.run (asyncio/runners.py)"
# System calls that hand work to another process or thread (and, on a crowded machine, often
# give up the CPU to it right there).
WAKE_CALLS = ("write", "writev", "send", "sendto", "sendmsg", "__libc_write", "__send",
              "sem_post", "pthread_cond_signal", "futex_wake")


@dataclass(frozen=True)
class Sample:
    frames: tuple[str, ...]  # "name (file)", root first
    count: int

    @property
    def leaf(self) -> str:
        return self.frames[-1] if self.frames else "?"

    @property
    def python_frames(self) -> tuple[str, ...]:
        return tuple(f for f in self.frames if _file(f).endswith(".py") or "<frozen" in f)

    @property
    def python_leaf(self) -> str:
        frames = self.python_frames
        return frames[-1] if frames else "?"

    @property
    def native(self) -> bool:
        return len(self.python_frames) != len(self.frames)

    def idle(self) -> bool:
        if any(f.startswith(IDLE_NATIVE) for f in self.frames if f not in self.python_frames):
            return True
        if self.python_leaf in IDLE_PYTHON:
            return True
        return self.leaf == LOOP_FRAME  # python-only stack parked in the loop's C code

    def waking_another(self) -> bool:
        return self.native and self.leaf.startswith(WAKE_CALLS)


def read_samples(path: Path) -> list[Sample]:
    samples = []
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    for line in raw.decode(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = tuple(_clean(frame) for frame in stack.split(";") if frame)
        samples.append(Sample(frames, int(count)))
    return samples


def _clean(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['name']} ({match['file']})"


def _file(frame: str) -> str:
    match = _FRAME.match(frame)
    return match["file"] if match else ""


def _on_store_thread(sample: Sample) -> bool:
    frames = sample.python_frames
    return bool(frames) and frames[0].startswith("Thread._bootstrap") and any(
        "concurrent/futures/thread.py" in f for f in frames)


Rule = tuple[str, Callable[[str], bool]]
LAYERS: list[Rule] = [
    ("JSON encode/decode (json stdlib)", lambda f: f.startswith("json/")),
    ("pydantic (validation, serialisation)", lambda f: "pydantic" in f),
    ("jsonschema (catalogue schemas)", lambda f: f.startswith("jsonschema")),
    ("HMAC / hashing (signing, token check)",
     lambda f: f in ("hmac.py", "hashlib.py") or f.endswith(("hookline/signing.py",
                                                            "receiver/_signing.py"))),
    ("encryption (secretbox, cryptography)",
     lambda f: f.endswith("secretbox.py") or f.startswith("cryptography")),
    ("random ids (random, hookline/ids.py)",
     lambda f: f in ("random.py",) or f.endswith("hookline/ids.py")),
    ("asyncpg (driver, pool)", lambda f: f.startswith("asyncpg")),
    ("aiohttp client (sending)", lambda f: f.startswith("aiohttp")),
    ("egress policy (ipaddress)",
     lambda f: f == "ipaddress.py" or f.endswith("delivery/egress.py")),
    ("uvicorn (HTTP protocol, httptools)", lambda f: f.startswith("uvicorn")),
    ("starlette (routing, middleware, responses)", lambda f: f.startswith("starlette")),
    ("fastapi (routing, dependencies, encoders)", lambda f: f.startswith("fastapi")),
    ("anyio (thread pool for sync dependencies)", lambda f: f.startswith("anyio")),
    ("logging", lambda f: f.startswith("logging")),
    ("asyncio / contextlib (Python side of the loop)",
     lambda f: f.startswith("asyncio") or f in ("contextlib.py", "contextvars.py")),
    ("Hookline's own Python", lambda f: f.startswith("hookline")),
]
EVENT_LOOP = "event loop C code (uvloop: I/O, callbacks; no Python frame)"
WAKERS = [("socket write, asyncpg → PostgreSQL (one per round trip)", "asyncpg"),
          ("socket write, aiohttp → receiver (a delivery)", "aiohttp"),
          ("socket write, uvicorn → HTTP answer", "uvicorn"),
          ("hand-off to the SQLite store's thread (one per statement)", "concurrent/futures"),
          ("hand-off to anyio's thread pool (sync dependency)", "anyio")]
STORE_THREAD = "SQLite statements (on the store's thread)"


def layer_of(sample: Sample) -> str:
    if _on_store_thread(sample):
        return STORE_THREAD
    if sample.waking_another():
        caller = next((name for frame in reversed(sample.python_frames)
                       for name, prefix in WAKERS if _file(frame).startswith(prefix)), "other")
        return f"wake-up syscall: {caller}"
    if sample.python_leaf == LOOP_FRAME:
        return EVENT_LOOP
    for frame in reversed(sample.python_frames):
        file = _file(frame)
        for name, matches in LAYERS:
            if matches(file):
                return name
    return "other"


# (label, frames that must appear in this order, outermost first)
STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("HTTP request in the ASGI app (uvicorn run_asgi)", ("RequestResponseCycle.run_asgi",)),
    ("  middleware BodyLimit + RejectNul and below", ("BodyLimit.__call__",)),
    ("  request validation (solve_dependencies)", ("solve_dependencies",)),
    ("    authenticate (admin-token check)", ("authenticate (hookline/api/auth.py)",)),
    ("    app_in_scope (application lookup)", ("app_in_scope",)),
    ("    sync dependency handed to a thread (run_in_threadpool)", ("run_in_threadpool",)),
    ("  route create_message", ("create_message",)),
    ("    service publish", ("MessageUseCases.publish",)),
    ("      application looked up again", ("MessageUseCases.publish", "get_app")),
    ("      catalogue check (event type lookup)", ("_check_against_catalogue",)),
    ("      store publish transaction", ("MessageQueries.publish",)),
    ("        NOTIFY", ("_notify_due",)),
    ("  response model serialisation (serialize_response)", ("serialize_response",)),
    ("  response sent (uvicorn send)", ("RequestResponseCycle.send",)),
    ("asyncpg pool acquire", ("PostgresDatabase._acquire",)),
    ("asyncpg pool release (its reset query is a round trip)",
     ("PoolConnectionHolder.release",)),
    ("worker claim (claim_due_deliveries)", ("claim_due_deliveries",)),
    ("  load claims (messages, endpoints, secrets)", ("_load_claims",)),
    ("worker start within caps", ("_start_within_caps",)),
    ("prepare request (body + signature)", ("prepare_request",)),
    ("  build body (envelope JSON)", ("build_body",)),
    ("  sign (signature_headers)", ("signature_headers",)),
    ("send (Sender.send)", ("Sender.send",)),
    ("  egress check", ("_check_destination",)),
    ("record results (record_results)", ("record_results",)),
    ("release unsent deliveries (release_deliveries)", ("release_deliveries",)),
    ("secret decryption (SecretBox)", ("SecretBox.",)),
]


def _contains_in_order(frames: tuple[str, ...], needles: tuple[str, ...]) -> bool:
    position = 0
    for needle in needles:
        position = next((i for i in range(position, len(frames)) if needle in frames[i]), -1)
        if position < 0:
            return False
    return True


@dataclass
class Summary:
    title: str
    busy: int
    idle: int
    layers: Counter[str]
    steps: list[tuple[str, int]]
    self_time: Counter[str]
    hookline_inclusive: Counter[str]

    def percent(self, n: int) -> str:
        return f"{100 * n / self.busy:.1f} %" if self.busy else "-"

    def markdown(self, top: int = 15) -> str:
        lines = [f"### {self.title}", "",
                 f"{self.busy:,} busy samples ({self.idle:,} samples of waiting threads or an "
                 "idle event loop left out). Busy includes time runnable but waiting for a "
                 "CPU (py-spy cannot tell it apart), which on this crowded machine piles up in "
                 "the system calls that wake another process or thread.",
                 "", "| layer (exclusive) | share |", "|---|---|"]
        lines += [f"| {name} | {self.percent(n)} |" for name, n in self.layers.most_common()]
        lines += ["", "| step (inclusive, nested) | share |", "|---|---|"]
        lines += [f"| {label.replace('  ', '&nbsp;&nbsp;')} | {self.percent(n)} |"
                  for label, n in self.steps]
        lines += ["", "| top Python functions by self time (C callees included) | share |",
                  "|---|---|"]
        lines += [f"| `{name}` | {self.percent(n)} |"
                  for name, n in self.self_time.most_common(top)]
        lines += ["", "| Hookline functions, inclusive | share |", "|---|---|"]
        lines += [f"| `{name}` | {self.percent(n)} |"
                  for name, n in self.hookline_inclusive.most_common(top)]
        return "\n".join(lines)


def summarise_samples(samples: list[Sample], title: str) -> Summary:
    busy_samples = [s for s in samples if not s.idle()]
    busy = sum(s.count for s in busy_samples)
    layers: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for sample in busy_samples:
        layers[layer_of(sample)] += sample.count
        self_time[sample.python_leaf] += sample.count
        for frame in set(sample.frames):
            if _file(frame).startswith("hookline/") and not frame.startswith(
                    ("<module>", "_run (", "serve (", "worker (")):
                inclusive[frame] += sample.count
    steps = [(label, n) for label, needles in STEPS
             if (n := sum(s.count for s in busy_samples
                          if _contains_in_order(s.frames, needles)))]
    return Summary(title, busy, sum(s.count for s in samples) - busy, layers, steps, self_time,
                   inclusive)


def summarise(path: Path, title: str, context: str = "") -> str:
    text = summarise_samples(read_samples(path), title).markdown()
    head, _, rest = text.partition("\n\n")
    return f"{head}\n\n{context}\n\n{rest}\n\nRaw stacks: `{path.name}`." if context else (
        f"{text}\n\nRaw stacks: `{path.name}`.")


def _main(paths: Iterator[str]) -> None:
    for name in paths:
        print(summarise(Path(name), name), end="\n\n")


if __name__ == "__main__":
    _main(iter(sys.argv[1:]))
