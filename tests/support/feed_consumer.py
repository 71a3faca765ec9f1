"""A pull-feed consumer in a process of its own, for tests that kill it: it reads its feed a
page at a time (`GET .../poller/{sink}/consumer/{consumer}`), writes each page's message ids
as one line once it has "processed" the page, and acknowledges a page by asking for the next.

    python feed_consumer.py URL TOKEN APP SINK CONSUMER OUT HOLD_AFTER

With HOLD_AFTER > 0 it stops after processing that many pages, before acknowledging the last,
prints `holding` and waits to be killed. Standard library only, so it starts at once.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from typing import Any

PAGE = 100


def poll(base: str, token: str, iterator: str | None) -> dict[str, Any]:
    url = f"{base}?limit={PAGE}" + (f"&iterator={iterator}" if iterator else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        page: dict[str, Any] = json.load(response)
    return page


def main(argv: list[str]) -> int:
    server, token, app_id, sink, consumer, out, hold_after = argv
    base = f"{server}/api/v1/app/{app_id}/poller/{sink}/consumer/{consumer}"
    iterator = None
    pages = 0
    with open(out, "a") as log:
        while True:
            page = poll(base, token, iterator)
            log.write(" ".join(m["id"] for m in page["data"]) + "\n")
            log.flush()
            pages += 1
            if pages == int(hold_after):
                print("holding", flush=True)
                time.sleep(3600)
            if page["done"]:
                return 0
            iterator = page["iterator"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
