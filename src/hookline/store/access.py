"""Portal links and portal sessions: single use, revocable, looked up once per portal request.

To end a link or a session is to move its expiry to now (or to a chosen moment): one column
says whether it still works. Rows long expired are purged whenever new ones are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tokens import PortalGrant, PortalLink
from .core import Connection, Row, StoreCore

# Rows expired this long ago are deleted when new ones are written: the tables stay small.
PURGE_AFTER = 24 * 3600.0


def _link(row: Row) -> PortalLink:
    return PortalLink(id=row["id"], app_id=row["app_id"], expires_at=row["expires_at"],
                      created_at=row["created_at"], read_only=bool(row["read_only"]),
                      session_tag=row["session_tag"], used_at=row["used_at"])


def _grant(row: Row) -> PortalGrant:
    return PortalGrant(id=row["id"], app_id=row["app_id"], expires_at=row["expires_at"],
                       created_at=row["created_at"],
                       admin_token_sha256=row["admin_token_sha256"], link_id=row["link_id"],
                       read_only=bool(row["read_only"]), session_tag=row["session_tag"])


class AccessQueries(StoreCore):
    """The server's record of who holds portal access."""

    async def _purge_expired(self, tx: Connection, table: str, now: float) -> None:
        await tx.execute(f"DELETE FROM {table} WHERE expires_at < $1", now - PURGE_AFTER)

    # -- links ---------------------------------------------------------------------------
    async def insert_portal_link(self, link: PortalLink) -> None:
        async with self.db.transaction() as tx:
            await self._purge_expired(tx, "portal_links", link.created_at)
            await tx.execute(
                "INSERT INTO portal_links (id, app_id, read_only, session_tag, created_at, "
                "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                link.id, link.app_id, link.read_only, link.session_tag, link.created_at,
                link.expires_at)

    async def use_portal_link(self, link_id: str, now: float) -> PortalLink | None:
        """Mark the link used, in one step, if it was unused and unexpired; None otherwise.
        Of two simultaneous uses of one link, exactly one gets it."""
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "UPDATE portal_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL "
                "AND expires_at > $2 RETURNING *", link_id, now)
        return None if row is None else _link(row)

    async def end_portal_link(self, link_id: str, now: float) -> None:
        """The link stops working, and so does the session it opened."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE portal_links SET expires_at = $2 WHERE id = $1 "
                             "AND expires_at > $2", link_id, now)
            await tx.execute("UPDATE portal_sessions SET expires_at = $2 WHERE link_id = $1 "
                             "AND expires_at > $2", link_id, now)

    # -- sessions ------------------------------------------------------------------------
    async def insert_portal_session(self, grant: PortalGrant) -> None:
        async with self.db.transaction() as tx:
            await self._purge_expired(tx, "portal_sessions", grant.created_at)
            await tx.execute(
                "INSERT INTO portal_sessions (id, app_id, admin_token_sha256, link_id, "
                "read_only, session_tag, created_at, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                grant.id, grant.app_id, grant.admin_token_sha256, grant.link_id,
                grant.read_only, grant.session_tag, grant.created_at, grant.expires_at)

    async def find_portal_session(self, grant_id: str, now: float,
                                  admin_key: str) -> PortalGrant | None:
        """The live session with this id. An administrator's is live only while the admin
        token hash stored under `admin_key` is still the one it signed in with."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM portal_sessions WHERE id = $1 AND expires_at > $2 "
                "AND (admin_token_sha256 IS NULL OR admin_token_sha256 = "
                "(SELECT value FROM meta WHERE key = $3))", grant_id, now, admin_key)
        return None if row is None else _grant(row)

    async def end_portal_session(self, grant_id: str, now: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE portal_sessions SET expires_at = $2 WHERE id = $1 "
                             "AND expires_at > $2", grant_id, now)

    async def expire_portal_access(self, app_id: str, at: float,
                                   session_tags: Sequence[str] | None) -> None:
        """Every link and partner session of the application stops working at `at` (those
        already ending sooner are left alone); with `session_tags`, only those tagged so."""
        tags: Any = None if session_tags is None else self.list_param(session_tags)
        condition = ("app_id = $1 AND expires_at > $2 "
                     f"AND ($3::text[] IS NULL OR session_tag {self.any_of('$3')})")
        async with self.db.transaction() as tx:
            for table in ("portal_links", "portal_sessions"):
                await tx.execute(f"UPDATE {table} SET expires_at = $2 WHERE {condition}",
                                 app_id, at, tags)
