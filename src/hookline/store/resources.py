"""Applications, event types, endpoints and API tokens.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound
from ..models import Application, Endpoint, EventType
from ..tokens import ApiToken
from .core import (
    Page,
    StoreCore,
    Window,
    _api_token,
    app_from_row,
    as_window,
    dump_json,
    event_type_from_row,
    event_type_values,
    window_page,
)


class ResourceQueries(StoreCore):
    """What partners and the platform configure."""

    # -- applications --------------------------------------------------------------------
    async def insert_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                self.q.insert_app,
                app.id, app.uid, app.name, dump_json(app.metadata), app.rate_limit,
                app.created_at, app.updated_at)
            if not app.auto_recover:
                await tx.execute(self.q.set_app_auto_recover, app.id, False)
        return app

    async def get_app(self, key: str) -> Application:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_app, key)
        if row is None:
            raise NotFound(f"application {key!r} not found")
        return app_from_row(row)

    async def list_apps(self, limit: int, iterator: str | Window | None) -> Page:
        window = as_window(iterator)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.list_apps[window.reads_ascending], window.after,
                                    window.before, limit + 1)
        return window_page([app_from_row(r) for r in rows], limit, lambda a: a.id, window)

    async def update_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                self.q.update_app,
                app.id, app.uid, app.name, dump_json(app.metadata), app.rate_limit, app.updated_at)
            await tx.execute(self.q.set_app_auto_recover, app.id, app.auto_recover)
        return app

    async def delete_app(self, app_id: str) -> None:
        async with self.db.transaction() as tx:
            for statement in self.q.delete_app:
                await tx.execute(statement, app_id)

    # -- event types ---------------------------------------------------------------------
    async def upsert_event_type(self, et: EventType) -> EventType:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.upsert_event_type, *event_type_values(et))
        return et

    async def get_event_type(self, name: str) -> EventType:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_event_type, name)
        if row is None:
            raise NotFound(f"event type {name!r} not found")
        return event_type_from_row(row)

    async def find_event_type(self, name: str) -> EventType | None:
        try:
            return await self.get_event_type(name)
        except NotFound:
            return None

    async def list_event_types(
        self, limit: int, iterator: str | Window | None, include_archived: bool = False
    ) -> Page:
        window = as_window(iterator)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.list_event_types[window.reads_ascending],
                                    window.after, window.before, include_archived, limit + 1)
        return window_page([event_type_from_row(r) for r in rows], limit, lambda e: e.name,
                           window)

    async def delete_event_type(self, name: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.delete_event_type, name)

    # -- endpoints -----------------------------------------------------------------------
    async def insert_endpoint(self, ep: Endpoint) -> Endpoint:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.insert_endpoint, *self._endpoint_values(ep))
        return ep

    async def update_endpoint(self, ep: Endpoint) -> Endpoint:
        """Write the endpoint's configuration; a re-enabled endpoint starts its failure count
        afresh so the auto-disable rule does not fire again on the next failure."""
        async with self.db.transaction() as tx:
            await tx.execute(
                self.q.update_endpoint, *self._endpoint_values(ep),
                str(ep.disabled_by) if ep.disabled and ep.disabled_by else None)
        return ep

    async def get_endpoint(self, app_id: str, key: str) -> Endpoint:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_endpoint, app_id, key)
        if row is None:
            raise NotFound(f"endpoint {key!r} not found")
        return self._endpoint(row)

    async def list_endpoints(self, app_id: str, limit: int,
                             iterator: str | Window | None) -> Page:
        window = as_window(iterator)
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.list_endpoints[window.reads_ascending], app_id,
                                    window.after, window.before, limit + 1)
        return window_page([self._endpoint(r) for r in rows], limit, lambda e: e.id, window)

    async def delete_endpoint(self, app_id: str, endpoint_id: str) -> None:
        async with self.db.transaction() as tx:
            for statement in self.q.delete_endpoint:
                await tx.execute(statement, endpoint_id, app_id)

    # -- API tokens and catalogue import ------------------------------------------------
    async def insert_api_token(self, token: ApiToken) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                self.q.insert_api_token,
                token.id, token.token_hash, token.app_id, token.name, token.read_only,
                token.created_at)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) application token with this hash."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.find_api_token, token_hash)
        return None if row is None else _api_token(row)

    async def list_api_tokens(self, app_id: str) -> list[ApiToken]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.list_api_tokens, app_id)
        return [_api_token(r) for r in rows]

    async def revoke_api_token(self, app_id: str, token_id: str, now: float) -> bool:
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(self.q.revoke_api_token, app_id, token_id, now)
        return row is not None

    async def upsert_event_types(self, types: Sequence[EventType]) -> int:
        """Create or replace many event types in one transaction; returns how many were new.
        An existing type keeps its `created_at`."""
        if not types:
            return 0
        async with self.db.transaction() as tx:
            rows = await tx.fetch(self.q.event_type_names,
                                  self.dialect.list_param([et.name for et in types]))
            existing = {r["name"] for r in rows}
            await tx.executemany(self.q.upsert_event_type,
                                 [event_type_values(et) for et in types])
        return len({et.name for et in types} - existing)

    async def all_event_types(self) -> list[EventType]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.all_event_types)
        return [event_type_from_row(r) for r in rows]
