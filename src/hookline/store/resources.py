"""Applications, event types, endpoints and API tokens."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound
from ..models import Application, Endpoint, EventType
from ..tokens import ApiToken
from .core import (
    UPSERT_EVENT_TYPE,
    Page,
    StoreCore,
    _api_token,
    app_from_row,
    dump_json,
    event_type_from_row,
    event_type_values,
    make_page,
)


class ResourceQueries(StoreCore):
    """What partners and the platform configure."""

    # -- applications --------------------------------------------------------------------
    async def insert_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO applications (id, uid, name, metadata, rate_limit, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                app.id, app.uid, app.name, dump_json(app.metadata), app.rate_limit,
                app.created_at, app.updated_at)
        return app

    async def get_app(self, key: str) -> Application:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM applications WHERE id = $1 OR uid = $1", key)
        if row is None:
            raise NotFound(f"application {key!r} not found")
        return app_from_row(row)

    async def list_apps(self, limit: int, iterator: str | None) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM applications WHERE ($1::text IS NULL OR id > $1) "
                "ORDER BY id LIMIT $2", iterator, limit + 1)
        return make_page([app_from_row(r) for r in rows], limit, lambda a: a.id)

    async def update_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE applications SET uid = $2, name = $3, metadata = $4, rate_limit = $5, "
                "updated_at = $6 WHERE id = $1",
                app.id, app.uid, app.name, dump_json(app.metadata), app.rate_limit, app.updated_at)
        return app

    async def delete_app(self, app_id: str) -> None:
        async with self.db.transaction() as tx:
            for table in ("attempts", "deliveries", "idempotency_keys", "messages", "endpoints",
                          "api_tokens", "portal_links", "portal_sessions"):
                await tx.execute(f"DELETE FROM {table} WHERE app_id = $1", app_id)
            await tx.execute("DELETE FROM idempotent_requests WHERE scope = $1", app_id)
            await tx.execute("DELETE FROM applications WHERE id = $1", app_id)

    # -- event types ---------------------------------------------------------------------
    async def upsert_event_type(self, et: EventType) -> EventType:
        async with self.db.transaction() as tx:
            await tx.execute(
                UPSERT_EVENT_TYPE, *event_type_values(et))
        return et

    async def get_event_type(self, name: str) -> EventType:
        async with self.db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM event_types WHERE name = $1", name)
        if row is None:
            raise NotFound(f"event type {name!r} not found")
        return event_type_from_row(row)

    async def find_event_type(self, name: str) -> EventType | None:
        try:
            return await self.get_event_type(name)
        except NotFound:
            return None

    async def list_event_types(
        self, limit: int, iterator: str | None, include_archived: bool = False
    ) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM event_types WHERE ($1::text IS NULL OR name > $1) "
                "AND ($2 OR NOT archived) ORDER BY name LIMIT $3",
                iterator, include_archived, limit + 1)
        return make_page([event_type_from_row(r) for r in rows], limit, lambda e: e.name)

    async def delete_event_type(self, name: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM event_types WHERE name = $1", name)

    # -- endpoints -----------------------------------------------------------------------
    async def insert_endpoint(self, ep: Endpoint) -> Endpoint:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO endpoints (id, app_id, uid, url, description, filter_types, "
                "channels, disabled, disabled_reason, secret, previous_secret, "
                "previous_secret_expires_at, headers, metadata, options, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                "$16, $17)", *self._endpoint_values(ep))
        return ep

    async def update_endpoint(self, ep: Endpoint) -> Endpoint:
        """Write the endpoint's configuration; a re-enabled endpoint starts its failure count
        afresh so the auto-disable rule does not fire again on the next failure."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE endpoints SET app_id = $2, uid = $3, url = $4, description = $5, "
                "filter_types = $6, channels = $7, disabled = $8, disabled_reason = $9, "
                "secret = $10, previous_secret = $11, previous_secret_expires_at = $12, "
                "headers = $13, metadata = $14, options = $15, created_at = $16, "
                "updated_at = $17, "
                "consecutive_failures = CASE WHEN $8 THEN consecutive_failures ELSE 0 END, "
                "failing_since = CASE WHEN $8 THEN failing_since ELSE NULL END "
                "WHERE id = $1", *self._endpoint_values(ep))
        return ep

    async def get_endpoint(self, app_id: str, key: str) -> Endpoint:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM endpoints WHERE app_id = $1 AND (id = $2 OR uid = $2)",
                app_id, key)
        if row is None:
            raise NotFound(f"endpoint {key!r} not found")
        return self._endpoint(row)

    async def list_endpoints(self, app_id: str, limit: int, iterator: str | None) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM endpoints WHERE app_id = $1 AND ($2::text IS NULL OR id > $2) "
                "ORDER BY id LIMIT $3", app_id, iterator, limit + 1)
        return make_page([self._endpoint(r) for r in rows], limit, lambda e: e.id)

    async def delete_endpoint(self, app_id: str, endpoint_id: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM deliveries WHERE endpoint_id = $1 AND app_id = $2",
                             endpoint_id, app_id)
            await tx.execute("DELETE FROM endpoints WHERE id = $1 AND app_id = $2",
                             endpoint_id, app_id)

    # -- API tokens and catalogue import ------------------------------------------------
    async def insert_api_token(self, token: ApiToken) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_tokens (id, token_hash, app_id, name, read_only, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                token.id, token.token_hash, token.app_id, token.name, token.read_only,
                token.created_at)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) application token with this hash."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
                "AND app_id IS NOT NULL", token_hash)
        return None if row is None else _api_token(row)

    async def list_api_tokens(self, app_id: str) -> list[ApiToken]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM api_tokens WHERE app_id = $1 AND revoked_at IS NULL "
                "ORDER BY created_at, id", app_id)
        return [_api_token(r) for r in rows]

    async def revoke_api_token(self, app_id: str, token_id: str, now: float) -> bool:
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "UPDATE api_tokens SET revoked_at = $3 WHERE app_id = $1 AND id = $2 "
                "AND revoked_at IS NULL RETURNING id", app_id, token_id, now)
        return row is not None

    async def upsert_event_types(self, types: Sequence[EventType]) -> int:
        """Create or replace many event types in one transaction; returns how many were new.
        An existing type keeps its `created_at`."""
        if not types:
            return 0
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT name FROM event_types WHERE name {self.any_of('$1')}",
                self.list_param([et.name for et in types]))
            existing = {r["name"] for r in rows}
            await tx.executemany(
                UPSERT_EVENT_TYPE, [event_type_values(et) for et in types])
        return len({et.name for et in types} - existing)

    async def all_event_types(self) -> list[EventType]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT * FROM event_types ORDER BY name")
        return [event_type_from_row(r) for r in rows]
