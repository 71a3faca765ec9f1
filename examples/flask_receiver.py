"""Receive Hookline webhooks in a Flask app.

    pip install -e .            # from the Hookline checkout, for hookline.receiver
    HOOKLINE_SECRET=whsec_... python examples/flask_receiver.py 8000

POST /webhooks verifies the signature (401 if it does not match), handles each event id once
(set HOOKLINE_DEDUPE_DB=path.db to share de-duplication between processes) and answers 204.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from flask import Flask

from hookline.receiver import IdempotencyStore, MemoryStore, SqliteStore
from hookline.receiver.flask import webhook


def create_app(secret: str, store: IdempotencyStore) -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks")
    @webhook(secret, dedupe=store)
    def receive(event: Any) -> None:
        # Keep this fast: hand long work to a queue and answer, or the sender times out and
        # retries. Raising here releases the event id so that retry runs it again.
        print(f"handled {event.get('type')} {json.dumps(event.get('data'))}", flush=True)

    return app


def main() -> None:
    secret = os.environ.get("HOOKLINE_SECRET")
    if not secret:
        sys.exit("set HOOKLINE_SECRET to the endpoint's signing secret (whsec_...)")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000"))
    db = os.environ.get("HOOKLINE_DEDUPE_DB")
    store = SqliteStore(db) if db else MemoryStore()
    create_app(secret, store).run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
