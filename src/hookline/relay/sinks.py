"""Where the relay sends rows: Hookline's batch route over HTTP, or Hookline's service in the
same process (`hookline serve`/`worker` with HOOKLINE_OUTBOX_SOURCES, or `hookline relay`
without `--to`, publishing straight into Hookline's own database).

Either way a sink answers one verdict per row, or raises `SinkUnavailable` when Hookline could
not take them now (the rows stay in the outbox and are sent again, under the same keys).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from ..errors import HooklineError, NotFound
from .rows import ACCEPTED, OutboxRow, SinkUnavailable, Verdict

REQUEST_TIMEOUT = 30.0
# Answers that say nothing of the rows themselves: the token, rate or server is at fault.
_RETRYABLE = frozenset({401, 403, 408, 409, 425, 429})


class Sink(Protocol):
    name: str

    async def publish(self, app: str, rows: Sequence[OutboxRow]) -> list[Verdict]: ...
    async def close(self) -> None: ...


class HttpSink:
    """`POST /api/v1/app/{app}/msg/batch` with the rows in order, one idempotency key each."""

    def __init__(self, base_url: str, token: str) -> None:
        self.name = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {token}",
                         "content-type": "application/json"}
        self._session: aiohttp.ClientSession | None = None

    async def publish(self, app: str, rows: Sequence[OutboxRow]) -> list[Verdict]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        url = f"{self.name}/api/v1/app/{quote(app, safe='')}/msg/batch?with_content=false"
        body = json.dumps({"messages": [row.message() for row in rows]},
                          separators=(",", ":"), ensure_ascii=False)
        try:
            async with self._session.post(url, data=body.encode(),
                                          headers=self._headers) as resp:
                answer = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SinkUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        return _verdicts(status, answer, len(rows), app)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _verdicts(status: int, answer: bytes, count: int, app: str) -> list[Verdict]:
    """One verdict per row from the batch route's answer; a retry for what names no row."""
    detail = _detail(answer)
    if status == 200:
        try:
            items = json.loads(answer)["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkUnavailable(f"the batch route answered what is not a batch result: "
                                  f"{exc}") from None
        if len(items) != count:
            raise SinkUnavailable(f"the batch route answered {len(items)} results for "
                                  f"{count} rows")
        return [ACCEPTED if item["outcome"] != "refused"
                else f"{item['status']}: {(item.get('error') or {}).get('detail', 'refused')}"
                for item in items]
    if status in _RETRYABLE or status >= 500:
        raise SinkUnavailable(f"the batch route answered {status}: {detail}")
    if status == 404:
        return [f"404: application {app!r} not found"] * count
    return [f"{status}: {detail}"] * count


def _detail(answer: bytes) -> str:
    try:
        return str(json.loads(answer).get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return answer[:200].decode(errors="replace")


class ServiceSink:
    """Publishes through a `Service` of this process: no HTTP and no token in between."""

    name = "this Hookline"

    def __init__(self, service: Any) -> None:
        self._service = service  # hookline.service.Service (Any: the relay is below it)

    async def publish(self, app: str, rows: Sequence[OutboxRow]) -> list[Verdict]:
        from ..service.messages import MessageDraft  # not loaded by `relay --to`

        drafts = [MessageDraft(r.event_type, json.loads(r.payload), event_id=r.event_id,
                               channels=None if r.channels is None else json.loads(r.channels),
                               idempotency_key=r.key, ordering_key=r.ordering_key)
                  for r in rows]
        try:
            # As an API request does: the batch's lookups (the application, each row's event
            # type, the routing table) share one read of the configuration version, instead
            # of one read each (a hundred round trips a batch).
            await self._service.start_request()
            results = await self._service.publish_batch(app, drafts)
        except NotFound as exc:
            return [f"404: {exc.detail}"] * len(rows)
        except HooklineError as exc:
            raise SinkUnavailable(exc.detail) from exc
        return [f"{r.status}: {r.detail}" if isinstance(r, HooklineError) else ACCEPTED
                for r in results]

    async def close(self) -> None:
        return None
