"""The outbox table and every statement on it, named, for each dialect and parameter style.

The table lives in the application's database. `seq` orders rows as they were written (and, for
writes that follow each other's commit, as they committed); `id` is random, so it is unique
across every database that feeds one Hookline and serves as the idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence

TABLE = "hookline_outbox"
NOTIFY_CHANNEL = "hookline_outbox"
COLUMNS = ("id", "app", "event_type", "payload", "event_id", "channels", "ordering_key",
           "idempotency_key")

# The columns both dialects share; `seq`, the clock and the number type differ.
_COMMON = """    id TEXT NOT NULL,
    app TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    event_id TEXT,
    channels TEXT,
    ordering_key TEXT,
    idempotency_key TEXT,"""


def _create(seq: str, number: str, now: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {TABLE} (\n    seq {seq},\n{_COMMON}\n"
            f"    created_at {number} NOT NULL DEFAULT ({now}),\n"
            f"    failed_at {number},\n    error TEXT\n)")


_PG_NOW = "extract(epoch FROM clock_timestamp())"
_SQLITE_NOW = "(julianday('now') - 2440587.5) * 86400.0"
_POSTGRES = (
    _create("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION", _PG_NOW),
    # One NOTIFY per inserting statement (PostgreSQL folds a transaction's identical ones into
    # one): the relay wakes at once instead of at its next poll.
    f"""CREATE OR REPLACE FUNCTION {TABLE}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$""",
    f"DROP TRIGGER IF EXISTS {TABLE}_notify ON {TABLE}",
    f"""CREATE TRIGGER {TABLE}_notify AFTER INSERT ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_notify()""",
)
_POSTGRES_QUIET = (_POSTGRES[0], f"DROP TRIGGER IF EXISTS {TABLE}_notify ON {TABLE}")
_SQLITE = (_create("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", _SQLITE_NOW),)

DIALECTS = ("postgresql", "sqlite")


def schema_statements(dialect: str, *, notify: bool = True) -> list[str]:
    """The statements that create the outbox table (idempotent), for `postgresql` or
    `sqlite`. `notify=False` leaves out PostgreSQL's wake-up trigger: a NOTIFY takes a
    database-wide lock at commit, so very high write rates may prefer the relay's poll."""
    if dialect in ("postgresql", "postgres"):
        return list(_POSTGRES if notify else _POSTGRES_QUIET)
    if dialect == "sqlite":
        return list(_SQLITE)
    raise ValueError(f"the outbox supports {' and '.join(DIALECTS)}, not {dialect!r}")


def insert_statement(style: str) -> str:
    """The one INSERT, in a driver's parameter style: `qmark` (?), `numeric` ($1),
    `format` (%s) or `named` (:name)."""
    marks: Sequence[str]
    if style == "qmark":
        marks = ["?"] * len(COLUMNS)
    elif style == "numeric":
        marks = [f"${n}" for n in range(1, len(COLUMNS) + 1)]
    elif style == "format":
        marks = ["%s"] * len(COLUMNS)
    elif style == "named":
        marks = [f":{name}" for name in COLUMNS]
    else:
        raise ValueError(style)
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(marks)})"


# -- what the relay runs on the source (hookline.relay) ------------------------------------
_ROW = "seq, id, app, event_type, payload, event_id, channels, ordering_key, idempotency_key"

PG_READ = (f"SELECT {_ROW}, {_PG_NOW} - created_at AS age "
           f"FROM {TABLE} WHERE failed_at IS NULL ORDER BY seq LIMIT $1")
PG_DELETE = f"DELETE FROM {TABLE} WHERE seq = ANY($1::bigint[])"
PG_REFUSE = (f"UPDATE {TABLE} SET failed_at = extract(epoch FROM clock_timestamp()), "
             "error = r.error FROM unnest($1::bigint[], $2::text[]) AS r(seq, error) "
             f"WHERE {TABLE}.seq = r.seq")
# Held for the connection's life: one relay per schema moves rows, the others stand by.
PG_TRY_LEAD = "SELECT pg_try_advisory_lock(2026, hashtext(current_schema()))"
PG_BACKLOG = (f"SELECT count(*) FILTER (WHERE failed_at IS NULL), "
              "extract(epoch FROM clock_timestamp()) - min(created_at) FILTER "
              "(WHERE failed_at IS NULL), count(*) FILTER (WHERE failed_at IS NOT NULL) "
              f"FROM {TABLE}")

SQLITE_READ = (f"SELECT {_ROW}, ({_SQLITE_NOW}) - created_at AS age FROM {TABLE} "
               "WHERE failed_at IS NULL ORDER BY seq LIMIT ?")
# One statement for a cycle's rows: their seqs as one JSON array (SQLite has no arrays).
SQLITE_DELETE = f"DELETE FROM {TABLE} WHERE seq IN (SELECT value FROM json_each(?))"
SQLITE_REFUSE = f"UPDATE {TABLE} SET failed_at = ({_SQLITE_NOW}), error = ? WHERE seq = ?"
SQLITE_BACKLOG = (f"SELECT sum(failed_at IS NULL), ({_SQLITE_NOW}) - min(CASE WHEN failed_at "
                  f"IS NULL THEN created_at END), sum(failed_at IS NOT NULL) FROM {TABLE}")
