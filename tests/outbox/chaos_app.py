"""An application for the chaos test: writes outbox events in psycopg transactions at a steady
rate, one to five per transaction, and rolls back every seventh transaction. Each event names
its ordering key and its place in that key's committed sequence, and the run it belongs to
(its `test` field: runs share one Hookline).

    python -m tests.outbox.chaos_app URL EVENTS RATE KEYS RUN

It prints `committed N` when done (N events in committed transactions)."""

from __future__ import annotations

import sys
import time

import psycopg

from hookline import outbox
from tests.outbox.drivers import split_schema


def main(url: str, events: int, rate: float, keys: int, run: str) -> None:
    assert keys >= 5, "a transaction holds up to five events, each of its own key"
    base, schema = split_schema(url)
    sent = [0] * keys  # per key: how many committed events it has
    written = committed = transactions = 0
    start = time.monotonic()
    with psycopg.connect(base, options=f"-c search_path={schema}") as conn:
        while written < events:
            transactions += 1
            roll_back = transactions % 7 == 0
            size = min(1 + transactions % 5, events - written)
            for offset in range(size):
                key = (written + offset) % keys
                payload = {"key": key, "n": sent[key],  # keys >= 5: one event a key
                           "rolled_back": roll_back, "uid": f"{transactions}-{offset}",
                           "test": run}
                outbox.publish(conn, "shop", "order.paid", payload, ordering_key=f"k{key}")
            if roll_back:
                conn.rollback()
            else:
                conn.commit()
                for offset in range(size):
                    sent[(written + offset) % keys] += 1
                written += size
                committed += size
            pause = start + written / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    print(f"committed {committed}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]),
         sys.argv[5])
