"""What every publish reads and hardly ever changes, kept in memory and never used stale.

The token check, the application, the event type (with its compiled schema) and the
application's routing table are read from the database once, then served from memory while the
database's configuration version (migration 0012: triggers move it on every change, whichever
process makes it) stays where it was. Each use reads that version first, so a change committed
by any process is honoured by the next use. Inside `start_request()` (one API request) the
version is read once, at its start: one cheap read per request instead of four lookups.

A single publish goes one step further (`optimistic`): it assumes the version last seen, and
its own write checks, in the same statement, that the version is still that one; if it moved,
nothing is written and the request is decided again from the database. So the hot path makes
one round trip, and still never stores a message routed or checked by stale configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from jsonschema import Draft202012Validator

from ..models import Application, EventType
from ..store.base import Store, Subscription
from ..tokens import ApiToken

MAX_ENTRIES = 10_000  # per kind; beyond, that kind starts afresh (bounds memory)
T = TypeVar("T")


@dataclass(frozen=True)
class CatalogueEntry:
    """An event type as publishing checks it: None when not in the catalogue."""

    event_type: EventType | None
    validator: Any = None  # Draft202012Validator of its schema, compiled once


class ConfigCache:
    """The service's in-memory copy of configuration, valid for one configuration version."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._version: int | None = None
        self._kinds: dict[str, dict[str, Any]] = {}
        # The version the current request started with, and whether it was read (False:
        # assumed, to be checked by the publish itself), with the task that runs the request:
        # a task it starts does not inherit it. Unset outside `start_request`.
        self._request: ContextVar[tuple[object, int, bool] | None] = ContextVar(
            f"hookline_config_version_{id(self)}", default=None)

    async def admin_token_hash(self, load: Callable[[], Awaitable[str | None]]) -> str | None:
        return await self._get("admin", "", load)

    async def api_token(self, token_hash: str) -> ApiToken | None:
        """A live application token; unknown ones are not remembered (anyone can make up
        tokens), so they always cost a lookup."""
        return await self._get("tokens", token_hash,
                               lambda: self._store.find_api_token(token_hash), keep_none=False)

    async def app(self, key: str) -> Application:
        """An application by id or uid (NotFound as the store raises it, never remembered)."""
        return await self._get("apps", key, lambda: self._store.get_app(key))

    async def catalogue_entry(self, name: str) -> CatalogueEntry:
        async def load() -> CatalogueEntry:
            et = await self._store.find_event_type(name)
            schema = et.schema if et is not None else None
            return CatalogueEntry(et, Draft202012Validator(schema) if schema else None)

        return await self._get("catalogue", name, load)

    async def subscriptions(self, app_id: str) -> list[Subscription]:
        return await self._get("routes", app_id,
                               lambda: self._store.list_subscriptions(app_id))

    async def _get(self, kind: str, key: str, load: Callable[[], Awaitable[T]],
                   keep_none: bool = True) -> T:
        version = await self._current_version()
        entries = self._kinds.setdefault(kind, {})
        if key in entries:
            found: T = entries[key]
            return found
        value = await load()
        # Kept only if no newer version was seen meanwhile: what was read may predate it.
        if self._version == version and (keep_none or value is not None):
            if len(entries) >= MAX_ENTRIES:
                entries.clear()
            entries[key] = value
        return value

    async def start_request(self, *, optimistic: bool = False) -> None:
        """The rest of this task (one API request) uses the version read now. `optimistic`:
        the version last seen, unread, for a publish that checks it in its own write and
        raises `StaleConfiguration` if it moved (the caller then starts again, not
        optimistic): one read fewer on the hot path."""
        task = asyncio.current_task()
        if optimistic and self._version is not None:
            self._request.set((task, self._version, False))
        else:
            self._request.set((task, await self._read_version(), True))

    async def assumption_failed(self) -> bool:
        """Whether this request assumed a version (`optimistic`) that has moved since: then
        whatever it decided from the cache, a refusal too, must be decided again."""
        assumed = self.unchecked_version()
        return assumed is not None and await self._read_version() != assumed

    def unchecked_version(self) -> int | None:
        """The version this request assumed without reading it, if it did."""
        held = self._held()
        return held[0] if held is not None and not held[1] else None

    async def _current_version(self) -> int:
        held = self._held()
        return await self._read_version() if held is None else held[0]

    def _held(self) -> tuple[int, bool] | None:
        held = self._request.get()
        if held is None or held[0] is not asyncio.current_task():
            return None
        return held[1], held[2]

    async def _read_version(self) -> int:
        version = await self._store.config_version()
        if self._version is None or version > self._version:
            self._version = version
            self._kinds.clear()
        return version
