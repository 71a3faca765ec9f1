"""Receive Hookline webhooks in a FastAPI app.

    pip install -e .            # from the Hookline checkout, for hookline.receiver
    HOOKLINE_SECRET=whsec_... python examples/fastapi_receiver.py 8000

POST /webhooks verifies the signature (401 if it does not match), handles each event id once
(set HOOKLINE_DEDUPE_DB=path.db to share de-duplication between processes) and answers 204.
"""

# No `from __future__ import annotations` here: FastAPI must see the real `Depends(...)` object
# in the route's annotations, and a string would not resolve to the local `verified_event`.
import json
import os
import sys
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI

from hookline.receiver import IdempotencyStore, MemoryStore, SqliteStore
from hookline.receiver.fastapi import WebhookVerifier


def create_app(secret: str, store: IdempotencyStore) -> FastAPI:
    app = FastAPI()
    verified_event = WebhookVerifier(secret, dedupe=store)

    @app.post("/webhooks", status_code=204)
    def receive(event: Annotated[Any, Depends(verified_event)]) -> None:
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
    uvicorn.run(create_app(secret, store), host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
