"""The portal's session: a signed, expiring cookie naming who is looking at which application.

The cookie holds no secret: a random session id, the application in scope, whether the
holder signed in with the admin token, and an expiry, all signed. A signed-in session is also
recorded by the server (`PortalGrant`), which is what lets it end before the cookie does: each
request checks the record, and what it says (admin, read-only, the partner's application)
wins over the cookie. The CSRF token that every form carries is an HMAC of the session id, so
it is never stored anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from ..errors import Unauthorized
from ..models import EventType
from ..tokens import SESSION_SECONDS, PortalGrant, sign_payload, verify_payload

COOKIE_NAME = "hookline_portal"
COOKIE_PATH = "/portal"
SESSION_KEY_LABEL = "portal-session"
CSRF_KEY_LABEL = "portal-csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _flags(grant: PortalGrant) -> tuple[str, ...] | None:
    return None if grant.feature_flags is None else tuple(grant.feature_flags)


@dataclass(frozen=True)
class PortalSession:
    sid: str
    expires_at: float
    app_id: str | None = None
    admin: bool = False
    # From the server's record, never from the cookie: may look, may not change anything.
    read_only: bool = False
    # Svix's featureFlags of a partner's link: flagged event types it may see (None: none).
    feature_flags: tuple[str, ...] | None = None

    @classmethod
    def anonymous(cls, now: float) -> PortalSession:
        """A visitor who has not signed in: enough for the sign-in form's CSRF token."""
        return cls(new_session_id(), now + SESSION_SECONDS)

    @classmethod
    def granted(cls, sid: str, grant: PortalGrant) -> PortalSession:
        """Signed in as the server recorded it: through a portal link (one application,
        nothing else) or with the admin token (may switch between applications)."""
        return cls(sid, grant.expires_at, grant.app_id, grant.admin, grant.read_only,
                   _flags(grant))

    def under(self, grant: PortalGrant) -> PortalSession:
        """This cookie's session as its live server record allows it: only an administrator
        chooses the application in scope."""
        app_id = self.app_id if grant.admin else grant.app_id
        return replace(self, app_id=app_id, admin=grant.admin, read_only=grant.read_only,
                       feature_flags=_flags(grant),
                       expires_at=min(self.expires_at, grant.expires_at))

    def sees(self, event_type: EventType) -> bool:
        """Whether this session shows the event type: an administrator sees all of them."""
        flags = None if self.feature_flags is None else list(self.feature_flags)
        return self.admin or event_type.visible_with(flags)

    def switched_to(self, app_id: str) -> PortalSession:
        return replace(self, app_id=app_id)

    @property
    def signed_in(self) -> bool:
        return self.admin or self.app_id is not None


def new_session_id() -> str:
    """Every sign-in gets a new id, hence a new CSRF token (no session fixation)."""
    return secrets.token_urlsafe(18)


class SessionCodec:
    """Turns sessions into cookie values and back, and derives their CSRF tokens."""

    def __init__(self, session_key: bytes, csrf_key: bytes) -> None:
        self._session_key = session_key
        self._csrf_key = csrf_key

    def encode(self, session: PortalSession) -> str:
        return sign_payload(self._session_key, {
            "sid": session.sid, "exp": int(session.expires_at), "app": session.app_id,
            "adm": session.admin})

    def decode(self, value: str, now: float) -> PortalSession | None:
        try:
            payload = verify_payload(self._session_key, value, now)
        except Unauthorized:
            return None
        sid, app_id = payload.get("sid"), payload.get("app")
        if not isinstance(sid, str) or not (app_id is None or isinstance(app_id, str)):
            return None
        return PortalSession(sid, float(payload["exp"]), app_id, payload.get("adm") is True)

    def csrf_token(self, session: PortalSession) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, session: PortalSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))
