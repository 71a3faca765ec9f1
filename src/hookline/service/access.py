"""Who may do what: the admin token, application tokens, logging out."""

from __future__ import annotations

import secrets

from .. import ids
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from ..tokens import MAX_TOKEN_NAME, ApiToken, hash_token, new_app_token
from .core import ADMIN_TOKEN_KEY
from .sessions import PortalAccessUseCases


class AccessUseCases(PortalAccessUseCases):
    """Tokens, and logging out; portal links and sessions are in `sessions.py`."""

    # -- admin token ---------------------------------------------------------------------
    async def ensure_admin_token(self) -> str | None:
        """Store the admin token's hash. Returns a newly generated token (to print once) when
        none was configured or stored before."""
        if self.settings.admin_token:
            await self.store.set_meta(ADMIN_TOKEN_KEY, hash_token(self.settings.admin_token))
            return None
        if await self.store.get_meta(ADMIN_TOKEN_KEY):
            return None
        return await self.reset_admin_token()

    async def reset_admin_token(self) -> str:
        token = "hl_admin_" + secrets.token_urlsafe(32)
        await self.store.set_meta(ADMIN_TOKEN_KEY, hash_token(token))
        return token

    async def is_admin_token(self, token: str) -> bool:
        stored = await self.config.admin_token_hash(
            lambda: self.store.get_meta(ADMIN_TOKEN_KEY))
        return stored is not None and secrets.compare_digest(stored, hash_token(token))

    # -- application-scoped API tokens -----------------------------------------------------
    async def create_app_token(self, app_key: str, name: str = "",
                               read_only: bool = False) -> tuple[ApiToken, str]:
        """A new token for one application; the plain token is returned here only."""
        app = await self.get_app(app_key)
        if len(name) > MAX_TOKEN_NAME:
            raise InvalidInput(f"name is longer than {MAX_TOKEN_NAME} characters", field="name")
        plain = new_app_token()
        token = ApiToken(id=ids.new_id(ids.TOKEN), app_id=app.id, name=name,
                         read_only=read_only, created_at=self.clock(),
                         token_hash=hash_token(plain))
        await self.store.insert_api_token(token)
        return token, plain

    async def list_app_tokens(self, app_key: str) -> list[ApiToken]:
        app = await self.get_app(app_key)
        return await self.store.list_api_tokens(app.id)

    async def revoke_app_token(self, app_key: str, token_id: str) -> None:
        app = await self.get_app(app_key)
        if not await self.store.revoke_api_token(app.id, token_id, self.clock()):
            raise NotFound(f"token {token_id!r} not found")

    async def principal_for_token(self, token: str) -> tuple[str, bool] | None:
        """(application id, read-only) for a live application token; None for anything else."""
        found = await self.config.api_token(hash_token(token))
        return None if found is None else (found.app_id, found.read_only)

    # -- logout ----------------------------------------------------------------------------
    async def log_out(self, bearer: str) -> None:
        """End the caller's own access (Svix's logout): an application token is revoked; a
        portal link token is used up, with the session it opened. The admin token is replaced
        with `hookline admin-token`, never logged out."""
        if await self.is_admin_token(bearer):
            raise Forbidden("the admin token cannot log out; replace it with "
                            "`hookline admin-token`")
        found = await self.store.find_api_token(hash_token(bearer))
        if found is not None:
            await self.store.revoke_api_token(found.app_id, found.id, self.clock())
        elif not await self.end_portal_link(bearer):
            raise Unauthorized("the bearer token is not valid")
