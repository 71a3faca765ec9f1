"""Applications and the event-type catalogue."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import ids
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Application, EventType
from ..store.base import Page
from .core import (
    ServiceCore,
    check_event_type,
    check_uid,
    clamp_limit,
    is_event_type_name,
    window_of,
)


class CatalogueUseCases(ServiceCore):
    """Applications and event types."""

    # -- applications --------------------------------------------------------------------
    async def create_app(self, name: str, uid: str | None = None,
                         metadata: dict[str, str] | None = None,
                         rate_limit: int | None = None,
                         auto_recover: bool = True) -> Application:
        check_uid(uid)
        now = self.clock()
        app = Application(id=ids.new_id(ids.APPLICATION), uid=uid, name=name,
                          metadata=metadata or {}, rate_limit=rate_limit,
                          created_at=now, updated_at=now, auto_recover=auto_recover)
        return await self.store.insert_app(app)

    async def get_or_create_app(self, key: str, name: str, uid: str | None = None,
                                metadata: dict[str, str] | None = None,
                                rate_limit: int | None = None) -> Application:
        """The application `key` names; if none, a new one whose uid is `uid` or `key`."""
        try:
            return await self.get_app(key)
        except NotFound:
            if ids.has_prefix(key, ids.APPLICATION):
                raise
        try:
            return await self.create_app(name, uid or key, metadata, rate_limit)
        except Conflict:  # created meanwhile by another request
            return await self.get_app(uid or key)

    async def list_apps(self, limit: int | None, iterator: str | None,
                        order: str | None = None) -> Page:
        window = window_of(iterator, order, ascending_by_default=True, prefix=ids.APPLICATION)
        page = await self.store.list_apps(clamp_limit(limit), window)
        page.data = [app for app in page.data if not self.operational.is_internal(app)]
        return page

    async def update_app(self, key: str, **changes: Any) -> Application:
        app = await self.get_app(key)
        check_uid(changes.get("uid"))
        app = replace(app, **changes, updated_at=self.clock())
        return await self.store.update_app(app)

    async def delete_app(self, key: str) -> None:
        app = await self.get_app(key)
        await self.store.delete_app(app.id)

    # -- event types ---------------------------------------------------------------------
    async def create_event_type(self, et: EventType) -> EventType:
        """Create an event type, or bring back an archived one (as Svix does)."""
        check_event_type(et)
        existing = await self.store.find_event_type(et.name)
        if existing is not None and not existing.archived:
            raise Conflict(f"event type {et.name!r} already exists")
        now = self.clock()
        created = existing.created_at if existing else now
        return await self.store.upsert_event_type(replace(et, created_at=created, updated_at=now))

    async def upsert_event_type(self, et: EventType) -> EventType:
        check_event_type(et)
        existing = await self.store.find_event_type(et.name)
        now = self.clock()
        created = existing.created_at if existing else now
        return await self.store.upsert_event_type(replace(et, created_at=created, updated_at=now))

    async def get_event_type(self, name: str) -> EventType:
        return await self.store.get_event_type(name)

    async def list_event_types(self, limit: int | None, iterator: str | None,
                               include_archived: bool = False,
                               order: str | None = None) -> Page:
        window = window_of(iterator, order, ascending_by_default=True,
                           is_key=is_event_type_name)
        return await self.store.list_event_types(clamp_limit(limit), window, include_archived)

    async def delete_event_type(self, name: str) -> None:
        await self.store.get_event_type(name)
        await self.store.delete_event_type(name)

    async def archive_event_type(self, name: str) -> EventType:
        """Svix's "delete": hidden from listings, still delivered and still filterable."""
        et = await self.store.get_event_type(name)
        return await self.store.upsert_event_type(
            replace(et, archived=True, updated_at=self.clock()))

    async def import_event_types(self, types: list[EventType]) -> tuple[int, int]:
        """Create or replace a whole catalogue at once, all or nothing: (created, updated)."""
        seen: set[str] = set()
        for et in types:
            check_event_type(et)
            if et.name in seen:
                raise InvalidInput(f"event type {et.name!r} appears twice", field="eventTypes")
            seen.add(et.name)
        now = self.clock()
        created = await self.store.upsert_event_types(
            [replace(et, created_at=now, updated_at=now) for et in types])
        return created, len(types) - created

    async def export_event_types(self) -> list[EventType]:
        return await self.store.all_event_types()
