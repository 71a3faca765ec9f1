"""A loopback webhook receiver for benchmarks, run in its own process.

Every request's Standard Webhooks signature is verified (`hookline.receiver`, which imports
nothing from the server) against the secret in `BENCH_SECRET`; a bad one is answered 401 and
counted. For each (webhook-id, path) it keeps the first arrival and the publish → arrival
latency, read from the `sentAt` epoch the load generator put in the payload (both clocks are
this machine's). Paths under `/broken-` play broken partners: `/broken-500-*` answers 500 at
once, `/broken-hang-*` holds every request past any timeout. `GET /_progress` is cheap
enough to poll; `GET /_stats` returns everything.

Paths under `/timed-` (bench/fairness.py) keep every request's arrival, answer and status, and
the most requests in flight at once, per path (`GET /_timeline`). Their query string says how
to answer: `hold=S` holds each request S seconds; `throttle_after=S&retry_after=R` answers 429
with `Retry-After: R` to the first request S seconds or more after the path's first, and
`throttle_for=F` goes on answering 429 for F seconds after that one (default: only it).

    BENCH_SECRET=whsec_... python bench/receiver.py PORT
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from aiohttp import web

from hookline.receiver import WebhookVerificationError, verify_signature

BROKEN = "/broken-"  # /broken-500-N answers 500 at once, /broken-hang-N never in time
HANG_SECONDS = 120.0
TIMED = "/timed-"  # every request kept, answered as its query string says


class Timeline:
    """One `/timed-` path's requests: [arrival, answer, status] each, and the peak in flight."""

    def __init__(self) -> None:
        self.requests: list[list[float]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.throttled_at: float | None = None  # when the first 429 was answered

    def status_for(self, query: Any, now: float) -> int:
        if "retry_after" not in query or not self.requests:
            return 200
        if self.throttled_at is None:
            if now - self.requests[0][0] < float(query.get("throttle_after", 0)):
                return 200
            self.throttled_at = now
        return 429 if now - self.throttled_at <= float(query.get("throttle_for", 0)) else 200

    async def answer(self, request: web.Request, now: float) -> web.Response:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            status = self.status_for(request.query, now)
            entry = [now, now, float(status)]
            self.requests.append(entry)
            await asyncio.sleep(float(request.query.get("hold", 0)))
            entry[1] = time.time()
        finally:
            self.in_flight -= 1
        if status == 429:
            return web.Response(status=429, text="slow down",
                                headers={"Retry-After": request.query["retry_after"]})
        return web.Response(text="ok")

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "peak_in_flight": self.peak_in_flight}


class Arrivals:
    """What reached the receiver since the last reset."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.latencies: list[float] = []
        self.duplicates = 0
        self.bad_signatures = 0
        self.first = 0.0
        self.last = 0.0

    def record(self, key: str, sent_at: float | None, now: float) -> None:
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        if not self.first:
            self.first = now
        self.last = now
        if sent_at is not None:
            self.latencies.append(now - sent_at)

    def progress(self) -> dict[str, Any]:
        return {"count": len(self.seen), "duplicates": self.duplicates,
                "bad_signatures": self.bad_signatures, "first": self.first, "last": self.last}


def make_app(secret: str) -> web.Application:
    arrivals = Arrivals()
    timelines: dict[str, Timeline] = {}

    async def hook(request: web.Request) -> web.Response:
        if request.path.startswith(BROKEN):  # a broken partner (`--broken`): never counted
            await request.read()
            if request.path.startswith(BROKEN + "hang"):
                await asyncio.sleep(HANG_SECONDS)
            return web.Response(status=500, text="broken")
        body = await request.read()
        now = time.time()
        try:
            verify_signature(body, request.headers, secret)
        except WebhookVerificationError:
            arrivals.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        if request.path.startswith(TIMED):
            return await timelines.setdefault(request.path, Timeline()).answer(request, now)
        arrivals.record(request.headers.get("webhook-id", "") + request.path,
                        _sent_at(body), now)
        return web.Response(text="ok")

    async def progress(request: web.Request) -> web.Response:
        return web.json_response(arrivals.progress())

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({**arrivals.progress(), "latencies": arrivals.latencies})

    async def timeline(request: web.Request) -> web.Response:
        return web.json_response({path: t.summary() for path, t in timelines.items()})

    async def reset(request: web.Request) -> web.Response:
        nonlocal arrivals
        arrivals = Arrivals()
        timelines.clear()
        return web.Response(text="ok")

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/_progress", progress)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_timeline", timeline)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", hook)
    return app


def _sent_at(body: bytes) -> float | None:
    """`sentAt` from a Hookline envelope (`data`) or a bare payload (raw and Celery runs)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    payload = document.get("data", document) if isinstance(document, dict) else None
    value = payload.get("sentAt") if isinstance(payload, dict) else None
    return float(value) if isinstance(value, int | float) else None


def main() -> None:
    port = int(sys.argv[1])
    secret = os.environ["BENCH_SECRET"]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(secret), host="127.0.0.1", port=port, access_log=None, print=None,
                backlog=2048)


if __name__ == "__main__":
    main()
