"""Load generators: processes of their own that publish over HTTP as API clients would.

One `LoadSpec` per process. Four shapes:
- `closed`: `in_flight` single-message publishes outstanding at all times (back-pressure
  sets the pace);
- `open`: publishes started at a constant `rate`, whatever the answers, so a slow server
  shows up as latency instead of a lower offered load (capped at `in_flight` outstanding,
  beyond which a send is counted as skipped, never queued);
- `batch`: closed loop of `POST .../msg/batch` requests of `batch_size` messages;
- `raw`: signed POSTs straight to the receiver, nothing stored: the ceiling.

Every payload carries `sentAt` (epoch seconds; the scheduled time in the open loop, so
queueing in the generator is not hidden), from which the receiver measures latency.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hookline.receiver import sign

EVENT_TYPE = "bench.event"
# Each request waits this long at most; a loop also stops at its spec's deadline.
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # closed | open | batch | raw
    url: str  # publish URL, batch URL, or the receiver's base URL for `raw`
    first: int  # this process publishes messages first .. first + count - 1
    count: int
    in_flight: int
    deadline: float  # epoch: no request starts after it
    token: str = ""
    rate: float = 0.0  # open loop: messages/s from this process
    batch_size: int = 100
    secret: str = ""  # raw: sign as Hookline would
    endpoints: int = 3  # raw: one request per endpoint path per message


@dataclass
class LoadResult:
    """What one generator process saw. `accepted` counts messages (deliveries for `raw`)."""

    sent: int = 0
    accepted: int = 0
    skipped: int = 0
    errors: int = 0
    unavailable: bool = False
    statuses: Counter[int] = field(default_factory=Counter)
    answer_latencies: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_answer: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "accepted": self.accepted, "skipped": self.skipped,
                "errors": self.errors, "unavailable": self.unavailable,
                "statuses": dict(self.statuses), "answer_latencies": self.answer_latencies,
                "first_send": self.first_send, "last_answer": self.last_answer}


def message(n: int, sent_at: float) -> dict[str, Any]:
    return {"eventType": EVENT_TYPE, "eventId": f"bench-{n}",
            "payload": {"n": n, "sentAt": sent_at}}


class Generator:
    def __init__(self, spec: LoadSpec, progress: Any, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self.progress = progress  # a shared multiprocessing.Value: accepted so far, all processes
        self.session = session
        self.result = LoadResult()
        self.headers = {"authorization": f"Bearer {spec.token}",
                        "content-type": "application/json"}

    def _accepted(self, n: int) -> None:
        self.result.accepted += n
        with self.progress.get_lock():
            self.progress.value += n

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        started = time.time()
        if not self.result.first_send:
            self.result.first_send = started
        self.result.sent += 1
        try:
            async with self.session.post(url, data=body, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            self.result.errors += 1
            return 0, None
        now = time.time()
        self.result.last_answer = now
        self.result.answer_latencies.append(now - started)
        self.result.statuses[status] += 1
        return status, raw

    async def publish_one(self, n: int, sent_at: float) -> None:
        status, _ = await self._post(self.spec.url, json.dumps(message(n, sent_at)).encode(),
                                     self.headers)
        if 200 <= status < 300:
            self._accepted(1)

    async def publish_batch(self, numbers: list[int]) -> None:
        now = time.time()
        body = json.dumps({"messages": [message(n, now) for n in numbers]}).encode()
        status, raw = await self._post(self.spec.url, body, self.headers)
        if status in (404, 405):
            self.result.unavailable = True
        elif 200 <= status < 300:
            self._accepted(_accepted_items(raw, len(numbers)))

    async def send_raw(self, n: int) -> None:
        now = time.time()
        body = json.dumps({"type": EVENT_TYPE, "data": {"n": n, "sentAt": now}}).encode()
        headers = sign(body, self.spec.secret, msg_id=f"raw_{self.spec.first}_{n}",
                       timestamp=int(now))
        headers["content-type"] = "application/json"
        for k in range(self.spec.endpoints):
            status, _ = await self._post(f"{self.spec.url}/raw/ep{k}", body, headers)
            if 200 <= status < 300:
                self._accepted(1)

    async def closed_loop(self) -> None:
        spec = self.spec
        numbers = iter(range(spec.first, spec.first + spec.count))
        step = spec.batch_size if spec.kind == "batch" else 1

        async def lane() -> None:
            while time.time() < spec.deadline and not self.result.unavailable:
                chunk = [n for _, n in zip(range(step), numbers, strict=False)]
                if not chunk:
                    return
                if spec.kind == "batch":
                    await self.publish_batch(chunk)
                elif spec.kind == "raw":
                    await self.send_raw(chunk[0])
                else:
                    await self.publish_one(chunk[0], time.time())

        await asyncio.gather(*(lane() for _ in range(spec.in_flight)))

    async def open_loop(self) -> None:
        spec = self.spec
        outstanding: set[asyncio.Task[None]] = set()
        start = time.time()
        for i in range(spec.count):
            scheduled = start + i / spec.rate
            if scheduled > spec.deadline:
                break
            delay = scheduled - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(outstanding) >= spec.in_flight:
                self.result.skipped += 1
                continue
            task = asyncio.create_task(self.publish_one(spec.first + i, scheduled))
            outstanding.add(task)
            task.add_done_callback(outstanding.discard)
        if outstanding:
            await asyncio.wait(outstanding)


def _accepted_items(raw: bytes | None, sent: int) -> int:
    """Messages a batch answer accepted: per-item results when it lists them, else all."""
    try:
        document = json.loads(raw or b"")
    except ValueError:
        return sent
    items = document.get("data") if isinstance(document, dict) else document
    if not isinstance(items, list):
        return sent
    return sum(1 for item in items if _item_ok(item))


def _item_ok(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("error") or item.get("problem"):  # present as null on accepted items
        return False
    status = item.get("status")
    return not isinstance(status, int) or 200 <= status < 300


async def _run(spec: LoadSpec, progress: Any) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=spec.in_flight, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        generator = Generator(spec, progress, session)
        if spec.kind == "open":
            await generator.open_loop()
        else:
            await generator.closed_loop()
        return generator.result


def run(spec: LoadSpec, progress: Any, results: Any) -> None:
    """A generator process's entry point: run `spec`, put the result's dict on `results`."""
    try:
        import uvloop

        result = uvloop.run(_run(spec, progress))
    except ImportError:
        result = asyncio.run(_run(spec, progress))
    except KeyboardInterrupt:
        return
    results.put(result.as_dict())
