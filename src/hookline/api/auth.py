"""Bearer-token authentication. The admin token sees everything."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ..errors import Forbidden, HooklineError, NotFound, Unauthorized
from ..service import Service


@dataclass(frozen=True)
class Principal:
    """Who is calling: the admin, or a token scoped to one application."""

    app_id: str | None = None
    read_only: bool = False

    @property
    def is_admin(self) -> bool:
        return self.app_id is None

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action needs the admin token")

    def require_write(self) -> None:
        if self.read_only:
            raise Forbidden("this token is read-only")

    def require_secret_access(self) -> None:
        """Holding a signing secret means being able to forge webhooks: not for read-only."""
        if self.read_only:
            raise Forbidden("a read-only token cannot read or rotate signing secrets")

    def check_app(self, app_id: str) -> None:
        """Another application's resources do not exist for an app-scoped token."""
        if self.app_id is not None and self.app_id != app_id:
            raise NotFound("application not found")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return token.strip()


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def authenticate(request: Request) -> Principal:
    """The caller. A read-only token is refused every write method here, once, so no route
    can forget to check it."""
    return await _authenticate(request, optimistic=False)


async def authenticate_publisher(request: Request) -> Principal:
    """The caller of a single publish, checked against the configuration last seen, unread:
    the publish's own write checks that it has not moved, and raises `StaleConfiguration`
    if it has; the route then authenticates again (see `create_message`). A refusal here
    stands only if that configuration is still current (a new admin token, say)."""
    try:
        return await _authenticate(request, optimistic=True)
    except HooklineError:
        service: Service = request.app.state.service
        if not await service.configuration_moved():
            raise
        return await _authenticate(request, optimistic=False)


def _moves_a_feed_consumer(path: str) -> bool:
    """A pull feed's seek changes only where its reader stands: a read-only token may."""
    return "/poller/" in path and path.endswith("/seek")


async def _authenticate(request: Request, *, optimistic: bool) -> Principal:
    service: Service = request.app.state.service
    token = bearer_token(request)
    await service.start_request(optimistic=optimistic)
    if await service.is_admin_token(token):
        return Principal()
    found = await service.principal_for_token(token)
    if found is None:
        raise Unauthorized("the bearer token is not valid")
    principal = Principal(app_id=found[0], read_only=found[1])
    if request.method in WRITE_METHODS and not _moves_a_feed_consumer(request.url.path):
        principal.require_write()
    return principal

