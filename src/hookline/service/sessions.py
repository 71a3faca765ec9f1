"""Partner portal access: links that open one session each, and sessions the server can end
before their cookie expires (logout, expire-all, a new admin token)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from .. import ids
from ..errors import InvalidInput, Unauthorized
from ..tokens import (
    PORTAL_KEY_LABEL,
    SESSION_SECONDS,
    PortalGrant,
    PortalLink,
    hash_token,
    read_portal_token,
    sign_portal_token,
)
from .core import ADMIN_TOKEN_KEY, PORTAL_ACCESS_MAX_TTL, PORTAL_ACCESS_MIN_TTL, ServiceCore

LINK_SPENT = "this portal link has already been used or was withdrawn; ask for a new one"
MAX_EXPIRE_DELAY = 3 * 24 * 3600  # Svix's bound on expire-all's `expiry`


class PortalAccessUseCases(ServiceCore):
    """Portal links and sessions. Session ids are the portal cookie's; only their SHA-256 is
    stored, so the table alone opens no session."""

    def _portal_key(self) -> bytes:
        return self.box.derive(PORTAL_KEY_LABEL)

    async def create_portal_access(self, app_key: str, ttl_seconds: int = 3600, *,
                                   read_only: bool = False,
                                   session_tag: str | None = None,
                                   feature_flags: list[str] | None = None) -> tuple[str, str]:
        """A short-lived signed link into the partner portal for one application: (url, token).
        It opens one session; a read-only one may look but change nothing, secrets included."""
        if not PORTAL_ACCESS_MIN_TTL <= ttl_seconds <= PORTAL_ACCESS_MAX_TTL:
            raise InvalidInput(f"expiry must be between {PORTAL_ACCESS_MIN_TTL} and "
                               f"{PORTAL_ACCESS_MAX_TTL} seconds", field="expiry")
        app = await self.get_app(app_key)
        now = self.clock()
        link = PortalLink(id=ids.new_id(ids.PORTAL_LINK, now=now), app_id=app.id,
                          expires_at=int(now + ttl_seconds), created_at=now,
                          read_only=read_only, session_tag=session_tag,
                          feature_flags=feature_flags)
        await self.store.insert_portal_link(link)
        token = sign_portal_token(self._portal_key(), app.id, ttl_seconds, now, link.id)
        return f"{self.settings.base_url}/portal/access?token={token}", token

    async def open_portal_link(self, token: str, session_id: str) -> PortalGrant:
        """A partner's session, opened with a portal link that is used up by it. Unauthorized
        when the link is forged, expired, already used or withdrawn."""
        now = self.clock()
        claim = read_portal_token(self._portal_key(), token, now)
        link = await self.store.use_portal_link(claim.link_id, now) if claim.link_id else None
        if link is None or link.app_id != claim.app_id:
            raise Unauthorized(LINK_SPENT)
        app = await self.get_app(link.app_id)
        grant = PortalGrant(id=hash_token(session_id), app_id=app.id,
                            expires_at=now + SESSION_SECONDS, created_at=now, link_id=link.id,
                            read_only=link.read_only, session_tag=link.session_tag,
                            feature_flags=link.feature_flags)
        await self.store.insert_portal_session(grant)
        return grant

    async def open_admin_session(self, admin_token: str, session_id: str) -> PortalGrant | None:
        """An administrator's session, bound to the admin token it was opened with: replacing
        that token ends it. None when `admin_token` is not the admin token."""
        stored = await self.store.get_meta(ADMIN_TOKEN_KEY)
        if stored is None or not secrets.compare_digest(stored, hash_token(admin_token)):
            return None
        now = self.clock()
        grant = PortalGrant(id=hash_token(session_id), app_id=None,
                            expires_at=now + SESSION_SECONDS, created_at=now,
                            admin_token_sha256=stored)
        await self.store.insert_portal_session(grant)
        return grant

    async def portal_grant(self, session_id: str) -> PortalGrant | None:
        """The live session with this id; None once it expired or was ended."""
        return await self.store.find_portal_session(hash_token(session_id), self.clock(),
                                                    ADMIN_TOKEN_KEY)

    async def end_portal_session(self, session_id: str) -> None:
        await self.store.end_portal_session(hash_token(session_id), self.clock())

    async def end_portal_link(self, token: str) -> bool:
        """Use up a genuine link token (even an expired one) and end the session it opened;
        False when `token` is no portal link token."""
        try:
            claim = read_portal_token(self._portal_key(), token, self.clock(), expired_ok=True)
        except Unauthorized:
            return False
        if claim.link_id is None:
            return False
        await self.store.end_portal_link(claim.link_id, self.clock())
        return True

    async def expire_portal_access(self, app_key: str, delay_seconds: int = 0,
                                   session_tags: Sequence[str] | None = None) -> None:
        """Every portal link and session of the application stops working in `delay_seconds`
        (Svix's expire-all); with `session_tags`, only those created with one of them."""
        if not 0 <= delay_seconds <= MAX_EXPIRE_DELAY:
            raise InvalidInput(f"expiry must be between 0 and {MAX_EXPIRE_DELAY} seconds",
                               field="expiry")
        app = await self.get_app(app_key)
        await self.store.expire_portal_access(app.id, self.clock() + delay_seconds,
                                              session_tags)
