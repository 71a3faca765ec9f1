"""The usual Python alternative, for comparison: a durable Celery + Redis delivery set-up.

One task per delivery (signed at send time like Hookline's, POST with `requests`, late
acknowledgement so a crashed worker's task is redelivered, retried on failure).
`throughput.py` enqueues the same deliveries as the Hookline runs and times them against the
same verifying receiver. The signing secret comes from `BENCH_SECRET`.
"""

from __future__ import annotations

import os
import time
from typing import Any

import requests
from celery import Celery

from hookline.receiver import sign

BROKER = os.environ.get("HOOKLINE_BENCH_BROKER", "redis://127.0.0.1:6379/15")
QUEUE = "hookline-bench-deliveries"

app = Celery("hookline_bench", broker=BROKER)
app.conf.update(
    task_acks_late=True,  # durable: a task is acknowledged only after it ran
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=4,
    task_default_queue=QUEUE,
    task_serializer="json",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_session = requests.Session()


@app.task(bind=True, max_retries=7, default_retry_delay=5)
def deliver(self: Any, url: str, body: str, msg_id: str) -> int:
    data = body.encode()
    headers = sign(data, os.environ["BENCH_SECRET"], msg_id=msg_id, timestamp=int(time.time()))
    headers["content-type"] = "application/json"
    try:
        response = _session.post(url, data=data, headers=headers, timeout=10,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        raise self.retry(exc=exc) from exc
    if not 200 <= response.status_code < 300:
        raise self.retry()
    return response.status_code
