"""Every difference between SQLite and PostgreSQL, in one object per database.

Statements are written once, in `queries.py`, with `$n` placeholders (asyncpg's; Python's
sqlite3 reads `$1` as a *named* parameter, and the SQLite driver binds `{"1": v1, ...}`).
Where the two databases need different SQL, `queries.py` asks the dialect for the fragment:
a cast, a list parameter, the claim statement. A new difference is a new method here, on both
classes; nothing else in the store may ask which database it talks to.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

MIGRATION_LOCK = 727274  # any constant: the advisory lock every migrating process takes
NOTIFY_CHANNEL = "hookline_deliveries"


class Dialect(ABC):
    """The SQL fragments, parameter shapes and statements that differ between databases."""

    name: str

    @abstractmethod
    def cast(self, param: str, sql_type: str) -> str:
        """`param` with its type spelled out, where PostgreSQL cannot infer it (`$2 IS NULL`)."""

    @abstractmethod
    def any_of(self, param: str) -> str:
        """SQL for `column <this>`: the column is one of the list parameter `param`."""

    @abstractmethod
    def list_param(self, values: Sequence[str]) -> Any:
        """The value to bind for a list parameter used with `any_of`."""

    @abstractmethod
    def hour_of(self, column: str) -> str:
        """Whole hours since the epoch of an epoch-seconds column."""

    @abstractmethod
    def claim_due(self, due: str) -> str:
        """Lease the deliveries `SELECT d.id <due>` finds and return them, in one statement
        ($1 now, $3 lease seconds, $4 owner, $5 lease id)."""

    def runs_migration(self, filename: str) -> bool:
        """`NNNN_name.sql` runs on every database; `NNNN_name.<dialect>.sql` (what the two
        write differently, such as triggers) only on that one."""
        if not filename.endswith(".sql"):
            return False
        stem = filename.removesuffix(".sql")
        only = next((d for d in ("sqlite", "postgres") if stem.endswith("." + d)), None)
        return only is None or only == self.name

    def publish_fanout(self) -> str | None:
        """One statement that stores messages of one application and their deliveries, from
        column arrays (see `fanout_columns`), if the database has one; else the driver runs
        `insert_message` and `insert_delivery` together (`Database.write_atomically`).
        Its last parameter is the configuration version the caller assumed (NULL: any); it
        writes only if that is still the version, and answers `written`."""
        return None

    lock_migrations: str | None = None
    """A statement that keeps two processes from migrating at once, if one is needed."""

    notify_due: str | None = None
    """A statement that tells other processes' workers deliveries became due, if any can."""


class SqliteDialect(Dialect):
    """One file, one writer at a time: `BEGIN IMMEDIATE` already serializes claims and
    migrations, and workers in other processes find new work by polling."""

    name = "sqlite"

    def cast(self, param: str, sql_type: str) -> str:
        return param  # SQLite's columns are dynamically typed

    def any_of(self, param: str) -> str:
        return f"IN (SELECT value FROM json_each({param}))"

    def list_param(self, values: Sequence[str]) -> Any:
        return json.dumps(list(values))

    def hour_of(self, column: str) -> str:
        # FLOOR is not in every SQLite build; a cast truncates, which floors positive times.
        return f"CAST({column} / 3600 AS INTEGER)"

    def claim_due(self, due: str) -> str:
        return ("UPDATE deliveries SET next_attempt_at = $1 + $3, lease_owner = $4, "
                "lease_id = $5, attempt_count = attempt_count + 1 "
                f"WHERE id IN (SELECT d.id {due}) "
                "RETURNING id, message_id, endpoint_id, attempt_count, trigger")


class PostgresDialect(Dialect):
    """Many workers on many machines: claims skip rows another worker holds locked, and a
    NOTIFY wakes every listening worker when deliveries become due."""

    name = "postgres"
    lock_migrations = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    notify_due = f"NOTIFY {NOTIFY_CHANNEL}"

    def cast(self, param: str, sql_type: str) -> str:
        return f"{param}::{sql_type}"

    def any_of(self, param: str) -> str:
        return f"= ANY({param}::text[])"

    def list_param(self, values: Sequence[str]) -> Any:
        return list(values)

    def hour_of(self, column: str) -> str:
        return f"FLOOR({column} / 3600)"

    def publish_fanout(self) -> str:
        # $1 the application; $2-$8 the message columns but app_id; $9-$13 the delivery
        # columns but app_id; $14 the assumed configuration version. One statement is
        # atomic alone: no BEGIN and COMMIT round trips.
        return (
            "WITH ok AS (SELECT 1 FROM config_version WHERE id = 1 "
            "AND ($14::bigint IS NULL OR version = $14)), "
            "m AS (INSERT INTO messages (id, app_id, event_type, event_id, payload, "
            "channels, created_at, ordering_key) SELECT id, $1, event_type, event_id, payload, "
            "channels, created_at, ordering_key FROM unnest($2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::float8[], $8::text[]) "
            "AS r(id, event_type, event_id, payload, channels, created_at, ordering_key) "
            "WHERE EXISTS (SELECT 1 FROM ok)), "
            "d AS (INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
            "SELECT id, message_id, endpoint_id, $1, 'pending', 0, created_at, 'scheduled', "
            "created_at, ordering_key FROM unnest($9::text[], $10::text[], $11::text[], "
            "$12::float8[], $13::text[]) AS r(id, message_id, endpoint_id, created_at, "
            "ordering_key) WHERE EXISTS (SELECT 1 FROM ok)) "
            "SELECT EXISTS (SELECT 1 FROM ok) AS written")

    def claim_due(self, due: str) -> str:
        return (f"WITH due AS (SELECT d.id {due} FOR UPDATE OF d SKIP LOCKED) "
                "UPDATE deliveries d SET next_attempt_at = $1 + $3, lease_owner = $4, "
                "lease_id = $5, attempt_count = d.attempt_count + 1 FROM due WHERE d.id = due.id "
                "RETURNING d.id, d.message_id, d.endpoint_id, d.attempt_count, d.trigger")


SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()
