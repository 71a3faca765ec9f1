"""Portal links and portal sessions: single use, revocable, looked up once per portal request.

To end a link or a session is to move its expiry to now (or to a chosen moment): one column
says whether it still works. Rows long expired are purged whenever new ones are written.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tokens import PortalGrant, PortalLink
from .core import Connection, Row, StoreCore, dump_json, load_json

# Rows expired this long ago are deleted when new ones are written: the tables stay small.
PURGE_AFTER = 24 * 3600.0


def _link(row: Row) -> PortalLink:
    return PortalLink(id=row["id"], app_id=row["app_id"], expires_at=row["expires_at"],
                      created_at=row["created_at"], read_only=bool(row["read_only"]),
                      session_tag=row["session_tag"], used_at=row["used_at"],
                      feature_flags=load_json(row["feature_flags"]))


def _grant(row: Row) -> PortalGrant:
    return PortalGrant(id=row["id"], app_id=row["app_id"], expires_at=row["expires_at"],
                       created_at=row["created_at"],
                       admin_token_sha256=row["admin_token_sha256"], link_id=row["link_id"],
                       read_only=bool(row["read_only"]), session_tag=row["session_tag"],
                       feature_flags=load_json(row["feature_flags"]))


class AccessQueries(StoreCore):
    """The server's record of who holds portal access."""

    async def _purge_expired(self, tx: Connection, table: str, now: float) -> None:
        await tx.execute(self.q.purge_expired[table], now - PURGE_AFTER)

    # -- links ---------------------------------------------------------------------------
    async def insert_portal_link(self, link: PortalLink) -> None:
        async with self.db.transaction() as tx:
            await self._purge_expired(tx, "portal_links", link.created_at)
            await tx.execute(
                self.q.insert_portal_link,
                link.id, link.app_id, link.read_only, link.session_tag, link.created_at,
                link.expires_at, dump_json(link.feature_flags))

    async def use_portal_link(self, link_id: str, now: float) -> PortalLink | None:
        """Mark the link used, in one step, if it was unused and unexpired; None otherwise.
        Of two simultaneous uses of one link, exactly one gets it."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(self.q.use_portal_link, link_id, now)
        return None if row is None else _link(row)

    async def end_portal_link(self, link_id: str, now: float) -> None:
        """The link stops working, and so does the session it opened."""
        async with self.db.transaction() as tx:
            for statement in self.q.end_portal_link:
                await tx.execute(statement, link_id, now)

    # -- sessions ------------------------------------------------------------------------
    async def insert_portal_session(self, grant: PortalGrant) -> None:
        async with self.db.transaction() as tx:
            await self._purge_expired(tx, "portal_sessions", grant.created_at)
            await tx.execute(
                self.q.insert_portal_session,
                grant.id, grant.app_id, grant.admin_token_sha256, grant.link_id,
                grant.read_only, grant.session_tag, grant.created_at, grant.expires_at,
                dump_json(grant.feature_flags))

    async def find_portal_session(self, grant_id: str, now: float,
                                  admin_key: str) -> PortalGrant | None:
        """The live session with this id. An administrator's is live only while the admin
        token hash stored under `admin_key` is still the one it signed in with."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.find_portal_session, grant_id, now, admin_key)
        return None if row is None else _grant(row)

    async def end_portal_session(self, grant_id: str, now: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.end_portal_session, grant_id, now)

    async def expire_portal_access(self, app_id: str, at: float,
                                   session_tags: Sequence[str] | None) -> None:
        """Every link and partner session of the application stops working at `at` (those
        already ending sooner are left alone); with `session_tags`, only those tagged so."""
        tags: Any = None if session_tags is None else self.dialect.list_param(session_tags)
        async with self.db.transaction() as tx:
            for statement in self.q.expire_portal_access:
                await tx.execute(statement, app_id, at, tags)
