"""`publish` and `create_table` on whatever connection the caller holds.

Each supported driver is recognised by the module its connection class comes from, so none of
them is imported here: the application brings its own. Sync drivers run at once and return;
async ones return an awaitable that the caller awaits inside its transaction.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

from ._schema import COLUMNS, insert_statement, schema_statements


class OutboxError(Exception):
    """The outbox cannot write on this connection, or an event is not one it can send."""


SQLITE3 = "sqlite3"
ASYNCPG = "asyncpg"
PSYCOPG = "psycopg"
PSYCOPG_ASYNC = "psycopg-async"
SQLALCHEMY = "sqlalchemy"
SQLALCHEMY_ASYNC = "sqlalchemy-async"
DJANGO = "django"

_STYLE = {SQLITE3: "qmark", ASYNCPG: "numeric", PSYCOPG: "format", PSYCOPG_ASYNC: "format",
          SQLALCHEMY: "named", SQLALCHEMY_ASYNC: "named", DJANGO: "format"}
_ASYNC = frozenset({ASYNCPG, PSYCOPG_ASYNC, SQLALCHEMY_ASYNC})


def driver_of(conn: Any) -> str:
    """Which supported driver `conn` belongs to, from its class alone."""
    if isinstance(conn, sqlite3.Connection | sqlite3.Cursor):
        return SQLITE3
    cls = type(conn)
    root = cls.__module__.split(".")[0]
    if root == "asyncpg":
        if cls.__name__ == "Pool":  # a pool's execute takes another connection
            raise OutboxError("publish on the connection of your transaction, not on the pool")
        return ASYNCPG
    if root == "psycopg":
        return PSYCOPG_ASYNC if cls.__name__.startswith("Async") else PSYCOPG
    if root == "sqlalchemy":
        return SQLALCHEMY_ASYNC if cls.__name__.startswith("Async") else SQLALCHEMY
    if root == "django":
        return DJANGO
    raise OutboxError(
        f"the outbox does not know connections of {cls.__module__}.{cls.__name__}: pass an "
        "asyncpg, psycopg or sqlite3 connection, a SQLAlchemy session or connection, or "
        "django.db.connection")


def publish(
    conn: Any,
    app: str,
    event_type: str,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
    channels: Sequence[str] | None = None,
    ordering_key: str | None = None,
    idempotency_key: str | None = None,
) -> Any:
    """Write one event to the outbox in the caller's transaction; the relay publishes it to
    Hookline once (and only if) that transaction commits. Returns the row's id, or with an
    async driver an awaitable of it (`await outbox.publish(conn, ...)`)."""
    driver = driver_of(conn)
    values = _row(app, event_type, payload, event_id, channels, ordering_key, idempotency_key)
    sql = insert_statement(_STYLE[driver])
    if driver == DJANGO and not conn.in_atomic_block:
        raise OutboxError("call publish inside transaction.atomic(): outside it the event "
                          "would commit on its own, whatever becomes of your other writes")
    result = _execute(conn, driver, sql, values)
    if driver in _ASYNC:
        return _then(result, values[0])
    return values[0]


async def _then(pending: Awaitable[Any], row_id: str) -> str:
    await pending
    return row_id


def _row(app: str, event_type: str, payload: dict[str, Any], event_id: str | None,
         channels: Sequence[str] | None, ordering_key: str | None,
         idempotency_key: str | None) -> tuple[Any, ...]:
    """The row's values, checked here so a mistake fails in the application, not the relay."""
    for name, value in (("app", app), ("event_type", event_type)):
        if not isinstance(value, str) or not value:
            raise OutboxError(f"{name} must be a non-empty string")
    if not isinstance(payload, dict):
        raise OutboxError("payload must be a dict (a JSON object)")
    if channels is not None and (isinstance(channels, str)
                                 or not all(isinstance(c, str) for c in channels)):
        raise OutboxError("channels must be a list of strings")
    try:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OutboxError(f"payload is not JSON: {exc}") from None
    return (uuid.uuid4().hex, app, event_type, body, event_id,
            None if channels is None else json.dumps(list(channels)), ordering_key,
            idempotency_key)


def _execute(conn: Any, driver: str, sql: str, values: tuple[Any, ...] | None) -> Any:
    """Run one statement on the caller's connection (values None: a statement without
    parameters, such as DDL)."""
    if driver == ASYNCPG:
        return conn.execute(sql, *(values or ()))
    if driver in (SQLALCHEMY, SQLALCHEMY_ASYNC):
        from sqlalchemy import text

        params = dict(zip(COLUMNS, values, strict=True)) if values is not None else {}
        return conn.execute(text(sql), params)
    if driver == DJANGO:
        with conn.cursor() as cursor:
            cursor.execute(sql, None if values is None else list(values))
        return None
    if values is None:
        return conn.execute(sql)
    return conn.execute(sql, values)  # sqlite3, psycopg (its async execute is awaitable)


def dialect_of(conn: Any, driver: str) -> str:
    """`postgresql` or `sqlite`: what the connection talks to."""
    if driver == SQLITE3:
        return "sqlite"
    if driver in (ASYNCPG, PSYCOPG, PSYCOPG_ASYNC):
        return "postgresql"
    if driver == DJANGO:
        return str(conn.vendor)
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn
    return str(bind.dialect.name)


def create_table(conn: Any, *, notify: bool = True) -> Any:
    """Create the outbox table on `conn` if it is missing (any supported driver; awaitable
    with an async one). Commit it like any other schema change of yours."""
    driver = driver_of(conn)
    statements = schema_statements(dialect_of(conn, driver), notify=notify)
    if driver in _ASYNC:
        return _create_async(conn, driver, statements)
    for statement in statements:
        _execute(conn, driver, statement, None)
    return None


async def _create_async(conn: Any, driver: str, statements: list[str]) -> None:
    for statement in statements:
        await _execute(conn, driver, statement, None)
