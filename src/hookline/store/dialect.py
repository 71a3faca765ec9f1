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
PURGE_LOCK = 727290  # the advisory lock of the process purging history (store/history.py)
VACUUM_LOCK = 727291  # with the schema: the process vacuuming after a purge round (postgres.py)
NOTIFY_CHANNEL = "hookline_deliveries"
# NOTIFY reaches the whole database, so each schema Hookline lives in has a channel of its own
# (the plain name in `public`): installations sharing a database never wake each other.
NOTIFY_CHANNEL_OF_SCHEMA = (
    f"SELECT '{NOTIFY_CHANNEL}' || CASE WHEN COALESCE(current_schema(), 'public') = 'public' "
    "THEN '' ELSE '_' || md5(current_schema()) END")


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
    def json_pairs(self, param: str) -> str:
        """A table of (key, value) rows from the JSON object parameter `param`."""

    @abstractmethod
    def json_list_has(self, column: str, param: str) -> str:
        """SQL true when the JSON list text in `column` holds the string `param`."""

    @abstractmethod
    def json_list_shares(self, column: str, param: str) -> str:
        """SQL true when the JSON list text in `column` holds one of the list `param`."""

    @abstractmethod
    def matches_any(self, column: str, param: str) -> str:
        """SQL true when `column` matches one of the event type filters in list `param`
        (bound with `patterns_param`), as fan-out's `fnmatchcase` does."""

    @abstractmethod
    def patterns_param(self, patterns: Sequence[str]) -> Any:
        """The value to bind for `matches_any`: event type filters, where `*` is the one
        wildcard (names hold letters, digits, '.', '_', '-' and '*' only)."""

    @abstractmethod
    def json_field(self, column: str, key: str) -> str:
        """SQL for the value at `key` of the JSON object text in `column` (NULL if absent)."""

    claim_due: str | None = None
    """One statement that makes a whole fair claim (docs/fairness.md) and stores its attempts,
    if the database can: $1 now, $2 limit, $3 lease seconds, $4 owner, $5 lease id, $6
    endpoints to skip, $7 room per endpoint (JSON), $8 room otherwise, $9 the default cap,
    $10 fresh attempt ids, $11 this worker's requests in flight per endpoint (JSON); it
    returns the leased rows with `attempt_id` and `probe`, each message once (`message`, on
    the first of its deliveries) and `config_version`. None: the store claims step by step
    inside one transaction (`DeliveryQueries`)."""

    def record_results(self) -> str | None:
        """One statement recording a whole batch of results from arrays, where the database
        can (see `PostgresDialect`); None: one statement per row."""
        return None

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

    purge_guard: tuple[str, ...] = ()
    """Statements opening a purge batch's transaction: they bound its lock waits and answer
    (first column) whether this process may purge now; SQLite's write lock is enough."""

    reclaim_space: str | None = None
    """A statement returning pages freed by a purge to the file system, if one is needed."""


class SqliteDialect(Dialect):
    """One file, one writer at a time: `BEGIN IMMEDIATE` already serializes claims and
    migrations, and workers in other processes find new work by polling."""

    name = "sqlite"
    # Pages at a time (4 KiB each); a database made before auto_vacuum was set reuses its
    # free pages instead (docs/retention.md).
    reclaim_space = "PRAGMA incremental_vacuum(2048)"

    def cast(self, param: str, sql_type: str) -> str:
        return param  # SQLite's columns are dynamically typed

    def any_of(self, param: str) -> str:
        return f"IN (SELECT value FROM json_each({param}))"

    def list_param(self, values: Sequence[str]) -> Any:
        return json.dumps(list(values))

    def hour_of(self, column: str) -> str:
        # FLOOR is not in every SQLite build; a cast truncates, which floors positive times.
        return f"CAST({column} / 3600 AS INTEGER)"

    def json_pairs(self, param: str) -> str:
        return f"json_each({param})"

    def json_list_has(self, column: str, param: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = {param})"

    def json_list_shares(self, column: str, param: str) -> str:
        return (f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN "
                f"(SELECT value FROM json_each({param})))")

    def matches_any(self, column: str, param: str) -> str:
        # GLOB, not LIKE: it is case-sensitive, as fnmatchcase is, and its `*` is ours.
        return f"EXISTS (SELECT 1 FROM json_each({param}) WHERE {column} GLOB value)"

    def patterns_param(self, patterns: Sequence[str]) -> Any:
        return json.dumps(list(patterns))

    def json_field(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"


class PostgresDialect(Dialect):
    """Many workers on many machines: claims skip rows another worker holds locked, and a
    NOTIFY wakes every listening worker when deliveries become due."""

    name = "postgres"
    lock_migrations = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    notify_due = f"SELECT pg_notify(({NOTIFY_CHANNEL_OF_SCHEMA}), '')"
    # A batch waits at most this long for a row lock (a publish, a claim) and gives up rather
    # than hold others behind it; the next round tries again.
    purge_guard = ("SET LOCAL lock_timeout = '500ms'", "SET LOCAL statement_timeout = '10s'",
                   f"SELECT pg_try_advisory_xact_lock({PURGE_LOCK})")

    def cast(self, param: str, sql_type: str) -> str:
        return f"{param}::{sql_type}"

    def any_of(self, param: str) -> str:
        return f"= ANY({param}::text[])"

    def list_param(self, values: Sequence[str]) -> Any:
        return list(values)

    def hour_of(self, column: str) -> str:
        return f"FLOOR({column} / 3600)"

    def publish_fanout(self) -> str:
        # $1 the application; $2-$8 the message columns but app_id; $9-$11 the deliveries'
        # id, message and endpoint (their time and ordering key are their message's); $12
        # the assumed configuration version. One statement is atomic alone: no BEGIN and
        # COMMIT round trips. Fewer, shorter arrays: asyncpg checks every element's type.
        return (
            "WITH ok AS (SELECT 1 FROM config_version WHERE id = 1 "
            "AND ($12::bigint IS NULL OR version = $12)), "
            "m AS (INSERT INTO messages (id, app_id, event_type, event_id, payload, "
            "channels, created_at, ordering_key) SELECT id, $1, event_type, event_id, payload, "
            "channels, created_at, ordering_key FROM unnest($2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::float8[], $8::text[]) "
            "AS r(id, event_type, event_id, payload, channels, created_at, ordering_key) "
            "WHERE EXISTS (SELECT 1 FROM ok)), "
            "d AS (INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
            "SELECT r.id, r.message_id, r.endpoint_id, $1, 'pending', 0, m.created_at, "
            "'scheduled', m.created_at, m.ordering_key "
            "FROM unnest($9::text[], $10::text[], $11::text[]) AS r(id, message_id, endpoint_id) "
            "JOIN unnest($2::text[], $7::float8[], $8::text[]) AS m(id, created_at, ordering_key) "
            "ON m.id = r.message_id WHERE EXISTS (SELECT 1 FROM ok)) "
            "SELECT EXISTS (SELECT 1 FROM ok) AS written")

    def json_pairs(self, param: str) -> str:
        return f"jsonb_each_text({param}::jsonb)"

    def json_list_has(self, column: str, param: str) -> str:
        return f"({column})::jsonb ? {param}::text"

    def json_list_shares(self, column: str, param: str) -> str:
        return f"({column})::jsonb ?| {param}::text[]"

    def matches_any(self, column: str, param: str) -> str:
        return f"{column} LIKE ANY({param}::text[])"

    def patterns_param(self, patterns: Sequence[str]) -> Any:
        # LIKE's `_` matches any one character: escaped (with LIKE's default `\`).
        return [p.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
                .replace("*", "%") for p in patterns]

    # The function migrations 0026, 0027 and 0028 create (its statements are planned on every
    # call, 0027, and its second statement sees the leases of claims that held its endpoints
    # before it), read with its messages in the same round trip (0032).
    claim_due = ("SELECT * FROM hookline_claim_read($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                 "$11)")

    def json_field(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def record_results(self) -> str | None:
        # Attempts upserted, deliveries moved on and endpoints' failure streaks updated from
        # arrays ($1-$17 attempts, $18-$23 deliveries, $24-$29 streaks); returns the endpoints
        # updated, for the auto-disable rule.
        return (
            "WITH stored_attempts AS (INSERT INTO attempts (id, delivery_id, message_id, "
            "endpoint_id, app_id, url, created_at, succeeded, trigger, status_code, "
            "response_body, duration_ms, error_kind, error_detail, request_headers, "
            "attempt_number, worker, sending) "
            "SELECT *, FALSE FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
            "$5::text[], $6::text[], $7::float8[], $8::bool[], $9::text[], $10::int[], "
            "$11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::int[], "
            "$17::text[]) ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
            "succeeded = excluded.succeeded, status_code = excluded.status_code, "
            "response_body = excluded.response_body, duration_ms = excluded.duration_ms, "
            "error_kind = excluded.error_kind, error_detail = excluded.error_detail, "
            "request_headers = excluded.request_headers, sending = FALSE), "
            "moved_on AS (UPDATE deliveries d SET status = r.status, "
            "attempt_count = r.attempt_number, next_attempt_at = r.next_attempt_at, "
            "last_attempt_at = r.created_at, lease_owner = NULL, lease_id = NULL, "
            "attempt_id = NULL, trigger = 'scheduled' FROM unnest($18::text[], $19::text[], "
            "$20::int[], $21::float8[], $22::float8[], $23::text[]) AS r(id, status, "
            "attempt_number, next_attempt_at, created_at, lease_id) WHERE d.id = r.id "
            "AND (r.lease_id IS NULL OR d.lease_id = r.lease_id OR d.lease_id IS NULL)) "
            "UPDATE endpoints e SET consecutive_failures = CASE WHEN s.succeeded "
            "THEN s.failures ELSE e.consecutive_failures + s.failures END, "
            "failing_since = CASE WHEN s.succeeded THEN s.failing_since "
            "ELSE COALESCE(e.failing_since, s.failing_since) END, "
            "last_success_at = COALESCE(s.last_success_at, e.last_success_at), "
            "last_attempt_at = s.last_attempt_at FROM unnest($24::text[], $25::bool[], "
            "$26::int[], $27::float8[], $28::float8[], $29::float8[]) AS s(id, succeeded, "
            "failures, failing_since, last_success_at, last_attempt_at) WHERE e.id = s.id "
            "RETURNING e.*")


SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()
