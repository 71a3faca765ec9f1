"""Publish webhooks from inside your own database transaction.

`publish(conn, app, event_type, payload)` writes one row to the `hookline_outbox` table on the
connection you already hold; `hookline relay` moves committed rows into Hookline, each exactly
once. A rolled-back transaction takes its events with it. Standard library only at import: the
driver is yours (asyncpg, psycopg 3, SQLAlchemy 2, Django or sqlite3). See docs/outbox.md.
"""

from ._publish import OutboxError, create_table, publish
from ._schema import NOTIFY_CHANNEL, TABLE, schema_statements

__all__ = ["NOTIFY_CHANNEL", "TABLE", "OutboxError", "create_table", "publish",
           "schema_statements"]
