"""Hookline's exception hierarchy. The API and the CLI each map it to users in one place."""

from __future__ import annotations


class HooklineError(Exception):
    """Something went wrong in Hookline."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str | None = None, *, field: str | None = None,
                 partner: str | None = None) -> None:
        self.detail = detail or (self.__doc__ or self.title).strip()
        self.field = field
        # The same error in a partner's words where `detail` speaks to the operator (names a
        # setting): what the partner portal shows.
        self.partner_detail = partner
        super().__init__(self.detail)


class NotFound(HooklineError):
    """The requested resource does not exist."""

    status = 404
    title = "Not found"


class Conflict(HooklineError):
    """The resource conflicts with one that already exists."""

    status = 409
    title = "Conflict"


class InvalidInput(HooklineError):
    """The request is not valid."""

    status = 422
    title = "Validation failed"


class PayloadTooLarge(HooklineError):
    """The payload is larger than the configured limit."""

    status = 413
    title = "Payload too large"


class Unauthorized(HooklineError):
    """A valid bearer token is required."""

    status = 401
    title = "Unauthorized"


class Forbidden(HooklineError):
    """This token may not perform this action."""

    status = 403
    title = "Forbidden"


class StaleConfiguration(HooklineError):
    """The configuration changed while this publish was being checked against it; nothing
    was stored. Try again."""

    status = 503
    title = "Service unavailable"


class GroupInterrupted(HooklineError):
    """The write this publish shared with others was interrupted; whether it was stored is
    not known. Try again with the same idempotency-key."""

    status = 503
    title = "Service unavailable"


class StoreUnavailable(HooklineError):
    """The database is unreachable; try again shortly."""

    status = 503
    title = "Service unavailable"


class ConfigError(HooklineError):
    """The configuration is not valid."""
