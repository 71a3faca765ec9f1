"""The outbox relay: moves committed rows of applications' outbox tables into Hookline.

`hookline relay` runs it on its own; `hookline serve`/`worker` run one per source named in
HOOKLINE_OUTBOX_SOURCES beside their delivery worker. See docs/outbox.md.
"""

from __future__ import annotations

from .loop import OutboxRelay, RelayStats, lag_seconds
from .rows import Backlog, OutboxRow, SinkUnavailable, SourceUnavailable
from .sinks import HttpSink, ServiceSink, Sink
from .sources import OutboxSource, open_source


async def outbox_backlog(url: str) -> Backlog:
    """Rows waiting in an outbox and the age of the oldest, read from the source itself (for
    `hookline status`, which runs no relay of its own)."""
    source = open_source(url)
    await source.open()
    try:
        return await source.backlog()
    finally:
        await source.close()


__all__ = ["Backlog", "HttpSink", "OutboxRelay", "OutboxRow", "OutboxSource", "RelayStats",
           "ServiceSink", "Sink", "SinkUnavailable", "SourceUnavailable", "lag_seconds",
           "open_source", "outbox_backlog"]
