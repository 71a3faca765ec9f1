"""A loopback webhook receiver for benchmarks, run in its own process.

It answers 200 at once and remembers when each (webhook-id, path) first arrived;
`GET /_stats` returns those times and the count of duplicates.
"""

from __future__ import annotations

import sys
import time

from aiohttp import web

arrivals: dict[str, float] = {}
duplicates = 0


async def hook(request: web.Request) -> web.Response:
    global duplicates
    await request.read()
    key = request.headers.get("webhook-id", "") + request.path
    if key in arrivals:
        duplicates += 1
    else:
        arrivals[key] = time.time()
    return web.Response(text="ok")


async def stats(request: web.Request) -> web.Response:
    return web.json_response({"arrivals": arrivals, "duplicates": duplicates})


async def reset(request: web.Request) -> web.Response:
    global duplicates
    arrivals.clear()
    duplicates = 0
    return web.Response(text="ok")


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", hook)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
