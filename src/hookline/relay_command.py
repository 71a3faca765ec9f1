"""`hookline relay`: the relay on its own, over HTTP (`--to`) or into Hookline's database."""

from __future__ import annotations

import asyncio
import signal
import sys

from .config import Settings
from .relay import HttpSink, OutboxRelay, ServiceSink, Sink, open_source
from .relay.loop import STANDALONE_LANES
from .relay.sources import redact


async def run_relay(settings: Settings, target: str | None, token: str | None) -> None:
    """Relay every source until SIGTERM or SIGINT; the rows in flight are finished first."""
    from .runtime import Runtime

    runtime = None
    sink: Sink
    if target is not None:
        assert token is not None
        sink, where = HttpSink(target, token), target
    else:
        runtime = await Runtime.start(settings, with_worker=False)
        sink, where = ServiceSink(runtime.service), redact(settings.database_url)
    relays = [OutboxRelay(open_source(url), sink, poll_interval=settings.outbox_poll_interval,
                          lanes=STANDALONE_LANES)
              for url in settings.outbox_sources]
    def stop() -> None:
        for relay in relays:
            relay.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    names = ", ".join(redact(url) for url in settings.outbox_sources)
    print(f"hookline relay moving {names} into {where}", flush=True)
    sys.stdout.flush()
    try:
        await asyncio.gather(*(r.run() for r in relays))
    finally:
        if runtime is not None:
            await runtime.stop()
