"""The `Store`: every query Hookline makes, written once over a small async driver.

SQLite and PostgreSQL share this SQL (`$n` placeholders; the SQLite driver rewrites them to
`?n`). What differs between them, such as how due deliveries are claimed, is overridden in
`sqlite.py` and `postgres.py`. Times are epoch seconds (float); JSON is stored as text.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from ..errors import NotFound
from ..ids import ATTEMPT, new_id
from ..models import (
    Application,
    Attempt,
    AttemptTrigger,
    DeliveryOptions,
    DeliveryStatus,
    Endpoint,
    EventType,
    Message,
)
from ..secretbox import SecretBox
from ..tokens import ApiToken

IDEMPOTENCY_WINDOW = 24 * 3600.0
Row = Any  # sqlite3.Row or asyncpg.Record: both index by column name


class Connection(Protocol):
    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...


class Database(Protocol):
    """A connection pool (PostgreSQL) or a serialized connection (SQLite)."""

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...
    def connection(self) -> AbstractAsyncContextManager[Connection]: ...
    async def close(self) -> None: ...


@dataclass
class Page:
    data: list[Any]
    iterator: str | None
    done: bool


@dataclass
class Claim:
    """A delivery this worker holds for the lease; nobody else sends it meanwhile.

    Claiming already stored its attempt (`attempt_id`, marked *sending*): if the worker dies,
    the record shows an attempt whose outcome was lost, and it counts against the retry budget,
    so a message that crashes workers cannot loop forever.
    """

    delivery_id: str
    attempt_number: int
    attempt_id: str
    trigger: AttemptTrigger
    lease_id: str
    message: Message
    endpoint: Endpoint


@dataclass
class DeliveryResult:
    """One finished attempt and what it does to its delivery."""

    attempt: Attempt
    lease_id: str | None
    status: DeliveryStatus
    next_attempt_at: float | None


@dataclass(frozen=True)
class Subscription:
    """What fan-out needs to know of an endpoint: which messages it wants."""

    id: str
    filter_types: list[str] | None
    channels: list[str] | None
    disabled: bool


@dataclass
class PublishResult:
    message: Message
    created: bool
    endpoint_ids: list[str] = field(default_factory=list)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _page(rows: list[Any], limit: int, key: Callable[[Any], str]) -> Page:
    done = len(rows) <= limit
    rows = rows[:limit]
    return Page(rows, key(rows[-1]) if rows else None, done)


class Store:
    """Hookline's persistence. Subclasses supply the driver and the dialect's differences."""

    dialect = "sql"

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    # -- dialect hooks -------------------------------------------------------------------
    def any_of(self, placeholder: str) -> str:
        """SQL for `column IN <list parameter>`."""
        raise NotImplementedError

    def list_param(self, values: Sequence[str]) -> Any:
        raise NotImplementedError

    def due_deliveries_sql(self) -> str:
        """`FROM ... WHERE ...` of the deliveries a claim may take ($1 now, $2 limit,
        $6 endpoints to skip), oldest due first. Both dialects claim from this."""
        return (
            "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT e.disabled "
            f"AND NOT (d.endpoint_id {self.any_of('$6')}) "
            # A delivery with an ordering key waits while an earlier one for the same object
            # and endpoint is still pending (queued, retrying or in flight): per-object order.
            "AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p "
            "WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key "
            "AND p.status = 'pending' AND (p.created_at < d.created_at "
            "OR (p.created_at = d.created_at AND p.message_id < d.message_id)))) "
            "ORDER BY d.next_attempt_at LIMIT $2")

    async def claim_due_deliveries(
        self, owner: str, limit: int, now: float, lease: float,
        exclude_endpoints: Sequence[str] = (),
    ) -> list[Claim]:
        """Lease up to `limit` due deliveries for `lease` seconds, skipping disabled endpoints
        and `exclude_endpoints` (those this worker already sends to at their cap)."""
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------------
    async def migrate(self) -> list[int]:
        """Apply the numbered migrations not applied yet; returns the versions applied."""
        folder = resources.files("hookline.store") / "migrations"
        scripts = sorted(
            (int(entry.name.split("_")[0]), entry.read_text())
            for entry in folder.iterdir() if entry.name.endswith(".sql")
        )
        applied: list[int] = []
        async with self.db.transaction() as tx:
            await self._lock_migrations(tx)
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            done = {r["version"] for r in await tx.fetch("SELECT version FROM schema_migrations")}
            for version, script in scripts:
                if version in done:
                    continue
                await self._run_script(tx, script)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    version, _now())
                applied.append(version)
        return applied

    async def _lock_migrations(self, tx: Connection) -> None:
        """Keep two processes from migrating at once (PostgreSQL takes an advisory lock)."""

    async def _notify_due(self, tx: Connection) -> None:
        """Tell other processes' workers that deliveries became due (PostgreSQL NOTIFY)."""

    async def _run_script(self, tx: Connection, script: str) -> None:
        for statement in script.split(";\n"):
            if statement.strip():
                await tx.execute(statement)

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        async with self.db.connection() as conn:
            await conn.fetchrow("SELECT 1 AS ok")

    # -- settings kept in the database ----------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow("SELECT value FROM meta WHERE key = $1", key)
        return None if row is None else row["value"]

    async def set_meta(self, key: str, value: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)

    # -- applications --------------------------------------------------------------------
    async def insert_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO applications (id, uid, name, metadata, rate_limit, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                app.id, app.uid, app.name, _dump(app.metadata), app.rate_limit,
                app.created_at, app.updated_at)
        return app

    async def get_app(self, key: str) -> Application:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM applications WHERE id = $1 OR uid = $1", key)
        if row is None:
            raise NotFound(f"application {key!r} not found")
        return _app(row)

    async def list_apps(self, limit: int, iterator: str | None) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM applications WHERE ($1::text IS NULL OR id > $1) "
                "ORDER BY id LIMIT $2", iterator, limit + 1)
        return _page([_app(r) for r in rows], limit, lambda a: a.id)

    async def update_app(self, app: Application) -> Application:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE applications SET uid = $2, name = $3, metadata = $4, rate_limit = $5, "
                "updated_at = $6 WHERE id = $1",
                app.id, app.uid, app.name, _dump(app.metadata), app.rate_limit, app.updated_at)
        return app

    async def delete_app(self, app_id: str) -> None:
        async with self.db.transaction() as tx:
            for table in ("attempts", "deliveries", "idempotency_keys", "messages", "endpoints",
                          "api_tokens"):
                await tx.execute(f"DELETE FROM {table} WHERE app_id = $1", app_id)
            await tx.execute("DELETE FROM applications WHERE id = $1", app_id)

    # -- event types ---------------------------------------------------------------------
    async def upsert_event_type(self, et: EventType) -> EventType:
        async with self.db.transaction() as tx:
            await tx.execute(
                _UPSERT_EVENT_TYPE, *_event_type_values(et))
        return et

    async def get_event_type(self, name: str) -> EventType:
        async with self.db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM event_types WHERE name = $1", name)
        if row is None:
            raise NotFound(f"event type {name!r} not found")
        return _event_type(row)

    async def find_event_type(self, name: str) -> EventType | None:
        try:
            return await self.get_event_type(name)
        except NotFound:
            return None

    async def list_event_types(
        self, limit: int, iterator: str | None, include_archived: bool = False
    ) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM event_types WHERE ($1::text IS NULL OR name > $1) "
                "AND ($2 OR NOT archived) ORDER BY name LIMIT $3",
                iterator, include_archived, limit + 1)
        return _page([_event_type(r) for r in rows], limit, lambda e: e.name)

    async def delete_event_type(self, name: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM event_types WHERE name = $1", name)

    # -- endpoints -----------------------------------------------------------------------
    def _endpoint_values(self, ep: Endpoint) -> tuple[Any, ...]:
        sealed_prev = self.box.seal(ep.previous_secret) if ep.previous_secret else None
        return (
            ep.id, ep.app_id, ep.uid, ep.url, ep.description, _dump(ep.filter_types),
            _dump(ep.channels), ep.disabled, ep.disabled_reason, self.box.seal(ep.secret),
            sealed_prev, ep.previous_secret_expires_at,
            self.box.seal(_dump(ep.headers) or "{}"), _dump(ep.metadata),
            _dump(ep.options.to_json()), ep.created_at, ep.updated_at,
        )

    async def insert_endpoint(self, ep: Endpoint) -> Endpoint:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO endpoints (id, app_id, uid, url, description, filter_types, "
                "channels, disabled, disabled_reason, secret, previous_secret, "
                "previous_secret_expires_at, headers, metadata, options, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                "$16, $17)", *self._endpoint_values(ep))
        return ep

    async def update_endpoint(self, ep: Endpoint) -> Endpoint:
        """Write the endpoint's configuration; a re-enabled endpoint starts its failure count
        afresh so the auto-disable rule does not fire again on the next failure."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE endpoints SET app_id = $2, uid = $3, url = $4, description = $5, "
                "filter_types = $6, channels = $7, disabled = $8, disabled_reason = $9, "
                "secret = $10, previous_secret = $11, previous_secret_expires_at = $12, "
                "headers = $13, metadata = $14, options = $15, created_at = $16, "
                "updated_at = $17, "
                "consecutive_failures = CASE WHEN $8 THEN consecutive_failures ELSE 0 END, "
                "failing_since = CASE WHEN $8 THEN failing_since ELSE NULL END "
                "WHERE id = $1", *self._endpoint_values(ep))
        return ep

    async def get_endpoint(self, app_id: str, key: str) -> Endpoint:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM endpoints WHERE app_id = $1 AND (id = $2 OR uid = $2)",
                app_id, key)
        if row is None:
            raise NotFound(f"endpoint {key!r} not found")
        return self._endpoint(row)

    async def list_endpoints(self, app_id: str, limit: int, iterator: str | None) -> Page:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM endpoints WHERE app_id = $1 AND ($2::text IS NULL OR id > $2) "
                "ORDER BY id LIMIT $3", app_id, iterator, limit + 1)
        return _page([self._endpoint(r) for r in rows], limit, lambda e: e.id)

    async def delete_endpoint(self, app_id: str, endpoint_id: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM deliveries WHERE endpoint_id = $1 AND app_id = $2",
                             endpoint_id, app_id)
            await tx.execute("DELETE FROM endpoints WHERE id = $1 AND app_id = $2",
                             endpoint_id, app_id)

    def _endpoint(self, row: Row) -> Endpoint:
        prev = row["previous_secret"]
        return Endpoint(
            id=row["id"], app_id=row["app_id"], uid=row["uid"], url=row["url"],
            description=row["description"], filter_types=_load(row["filter_types"]),
            channels=_load(row["channels"]), disabled=bool(row["disabled"]),
            disabled_reason=row["disabled_reason"], secret=self.box.open(row["secret"]),
            previous_secret=self.box.open(prev) if prev else None,
            previous_secret_expires_at=row["previous_secret_expires_at"],
            headers=json.loads(self.box.open(row["headers"])),
            metadata=_load(row["metadata"]) or {},
            options=DeliveryOptions.from_json(_load(row["options"])),
            consecutive_failures=row["consecutive_failures"],
            failing_since=row["failing_since"], last_attempt_at=row["last_attempt_at"],
            last_success_at=row["last_success_at"], created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    # -- publishing ----------------------------------------------------------------------
    async def publish(
        self,
        message: Message,
        idempotency_key: str | None,
        select: Callable[[list[Subscription]], list[Subscription]],
    ) -> PublishResult:
        """Store a message and its deliveries in one transaction.

        `select` picks the endpoints that get it (filters and channels are core logic). With an
        idempotency key seen in the last 24 h, nothing is written and the first message returns.
        """
        now = message.created_at
        async with self.db.transaction() as tx:
            if idempotency_key is not None:
                row = await tx.fetchrow(
                    "SELECT m.* FROM idempotency_keys k JOIN messages m ON m.id = k.message_id "
                    "WHERE k.app_id = $1 AND k.key = $2 AND k.created_at > $3",
                    message.app_id, idempotency_key, now - IDEMPOTENCY_WINDOW)
                if row is not None:
                    return PublishResult(_message(row), created=False)
                await tx.execute(
                    "INSERT INTO idempotency_keys (app_id, key, message_id, created_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, key) DO UPDATE SET "
                    "message_id = excluded.message_id, created_at = excluded.created_at",
                    message.app_id, idempotency_key, message.id, now)
            await tx.execute(
                "INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, "
                "created_at, ordering_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                message.id, message.app_id, message.event_type, message.event_id,
                _dump(message.payload), _dump(message.channels), now, message.ordering_key)
            # Only what routing needs: no secrets are decrypted on the publish path.
            rows = await tx.fetch(
                "SELECT id, filter_types, channels, disabled FROM endpoints WHERE app_id = $1",
                message.app_id)
            targets = select([Subscription(r["id"], _load(r["filter_types"]),
                                           _load(r["channels"]), bool(r["disabled"]))
                              for r in rows])
            await tx.executemany(
                "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
                "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
                "VALUES ($1, $2, $3, $4, 'pending', 0, $5, 'scheduled', $5, $6)",
                [(_delivery_id(message.id, ep.id), message.id, ep.id, message.app_id, now,
                  message.ordering_key) for ep in targets])
            if targets:
                await self._notify_due(tx)
        return PublishResult(message, created=True, endpoint_ids=[ep.id for ep in targets])

    async def get_message(self, app_id: str, key: str) -> Message:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM messages WHERE app_id = $1 AND (id = $2 OR event_id = $2) "
                "ORDER BY (id = $2) DESC LIMIT 1", app_id, key)
        if row is None:
            raise NotFound(f"message {key!r} not found")
        return _message(row)

    async def list_messages(
        self,
        app_id: str,
        limit: int,
        iterator: str | None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
        channel: str | None = None,
    ) -> Page:
        types = self.list_param(event_types) if event_types else None
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM messages WHERE app_id = $1 AND ($2::text IS NULL OR id < $2) "
                f"AND ($3::text[] IS NULL OR event_type {self.any_of('$3')}) "
                "AND ($4::float8 IS NULL OR created_at < $4) "
                "AND ($5::float8 IS NULL OR created_at > $5) "
                "AND ($6::text IS NULL OR channels LIKE '%\"' || $6 || '\"%') "
                "ORDER BY id DESC LIMIT $7",
                app_id, iterator, types, before, after, channel, limit + 1)
        return _page([_message(r) for r in rows], limit, lambda m: m.id)

    # -- delivery ------------------------------------------------------------------------
    async def _load_claims(self, conn: Connection, rows: list[Row], lease_id: str,
                           owner: str, now: float) -> list[Claim]:
        """Finish a claim inside its transaction: close attempts a dead worker left open,
        store this worker's attempts as *sending*, and load what sending needs."""
        if not rows:
            return []
        delivery_ids = self.list_param([r["id"] for r in rows])
        await conn.execute(
            "UPDATE attempts SET sending = FALSE, error_kind = 'worker_lost', "
            "error_detail = 'the worker stopped before recording an outcome; sent again' "
            f"WHERE sending AND delivery_id {self.any_of('$1')}", delivery_ids)
        msg_ids = sorted({r["message_id"] for r in rows})
        ep_ids = sorted({r["endpoint_id"] for r in rows})
        messages = {r["id"]: _message(r) for r in await conn.fetch(
            f"SELECT * FROM messages WHERE id {self.any_of('$1')}", self.list_param(msg_ids))}
        endpoints = {r["id"]: self._endpoint(r) for r in await conn.fetch(
            f"SELECT * FROM endpoints WHERE id {self.any_of('$1')}", self.list_param(ep_ids))}
        claims = [
            Claim(r["id"], r["attempt_count"], new_id(ATTEMPT), AttemptTrigger(r["trigger"]),
                  lease_id, messages[r["message_id"]], endpoints[r["endpoint_id"]])
            for r in rows if r["message_id"] in messages and r["endpoint_id"] in endpoints
        ]
        await conn.executemany(
            "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
            "created_at, succeeded, sending, trigger, duration_ms, attempt_number, worker) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, TRUE, $8, 0, $9, $10)",
            [(c.attempt_id, c.delivery_id, c.message.id, c.endpoint.id, c.message.app_id,
              c.endpoint.url, now, str(c.trigger), c.attempt_number, owner) for c in claims])
        return claims

    async def record_results(self, results: Sequence[DeliveryResult]) -> list[Endpoint]:
        """Store attempts and their deliveries' new state in one transaction; update each
        endpoint's failure streak. Returns endpoints whose failures just reached their
        auto-disable rule (they are disabled here)."""
        from ..retry import should_disable

        disabled: list[Endpoint] = []
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
                "created_at, succeeded, trigger, status_code, response_body, duration_ms, "
                "error_kind, error_detail, request_headers, attempt_number, worker, sending) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
                "$17, FALSE) ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
                "succeeded = excluded.succeeded, status_code = excluded.status_code, "
                "response_body = excluded.response_body, duration_ms = excluded.duration_ms, "
                "error_kind = excluded.error_kind, error_detail = excluded.error_detail, "
                "request_headers = excluded.request_headers, sending = FALSE",
                [_attempt_values(r.attempt) for r in results])
            await tx.executemany(
                "UPDATE deliveries SET status = $2, attempt_count = $3, next_attempt_at = $4, "
                "last_attempt_at = $5, lease_owner = NULL, lease_id = NULL, "
                "trigger = 'scheduled' "
                "WHERE id = $1 AND ($6::text IS NULL OR lease_id = $6 OR lease_id IS NULL)",
                [(r.attempt.delivery_id, str(r.status), r.attempt.attempt_number,
                  r.next_attempt_at, r.attempt.created_at, r.lease_id)
                 for r in results if r.attempt.trigger != AttemptTrigger.TEST])
            for endpoint_id, streak in _failure_streaks(results).items():
                row = await tx.fetchrow(
                    "UPDATE endpoints SET "
                    "consecutive_failures = CASE WHEN $2 THEN $3 "
                    "  ELSE consecutive_failures + $3 END, "
                    "failing_since = CASE WHEN $2 THEN $4 "
                    "  ELSE COALESCE(failing_since, $4) END, "
                    "last_success_at = COALESCE($5, last_success_at), last_attempt_at = $6 "
                    "WHERE id = $1 RETURNING *",
                    endpoint_id, streak.succeeded, streak.failures, streak.failing_since,
                    streak.last_success_at, streak.last_attempt_at)
                if row is None or bool(row["disabled"]):
                    continue
                endpoint = self._endpoint(row)
                reason = should_disable(endpoint, streak.last_attempt_at)
                if reason:
                    await tx.execute(
                        "UPDATE endpoints SET disabled = TRUE, disabled_reason = $2, "
                        "updated_at = $3 WHERE id = $1",
                        endpoint_id, reason, streak.last_attempt_at)
                    endpoint.disabled, endpoint.disabled_reason = True, reason
                    disabled.append(endpoint)
        return disabled

    async def release_deliveries(self, claims: Sequence[Claim], at: float) -> None:
        """Hand claimed deliveries back unsent (shutdown, endpoint saturated): no attempt counts."""
        if not claims:
            return
        async with self.db.transaction() as tx:
            await tx.executemany(
                "UPDATE deliveries SET next_attempt_at = $2, lease_owner = NULL, lease_id = NULL, "
                "attempt_count = attempt_count - 1 "
                "WHERE id = $1 AND lease_id = $3 AND status = 'pending'",
                [(c.delivery_id, at, c.lease_id) for c in claims])
            await tx.executemany("DELETE FROM attempts WHERE id = $1 AND sending",
                                 [(c.attempt_id,) for c in claims])

    async def next_due_at(self) -> float | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT MIN(d.next_attempt_at) AS due FROM deliveries d "
                "JOIN endpoints e ON e.id = d.endpoint_id "
                "WHERE d.status = 'pending' AND NOT e.disabled")
        return None if row is None else row["due"]

    async def requeue_delivery(
        self, app_id: str, message_id: str, endpoint_id: str, now: float,
        trigger: AttemptTrigger = AttemptTrigger.MANUAL,
    ) -> None:
        """Resend: make the delivery due now with a fresh retry budget, creating it if the
        endpoint was never sent this message."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
                "attempt_count, next_attempt_at, trigger, created_at) "
                "VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $5) "
                "ON CONFLICT (id) DO UPDATE SET status = 'pending', attempt_count = 0, "
                "next_attempt_at = $5, trigger = $6, lease_owner = NULL, lease_id = NULL",
                _delivery_id(message_id, endpoint_id), message_id, endpoint_id, app_id, now,
                str(trigger))
            await self._notify_due(tx)

    async def requeue_failed_since(self, app_id: str, endpoint_id: str, since: float,
                                   now: float) -> int:
        """Recover: every failed delivery of an endpoint created since `since` is due again."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE deliveries SET status = 'pending', attempt_count = 0, "
                "next_attempt_at = $4, trigger = 'manual' WHERE app_id = $1 AND "
                "endpoint_id = $2 AND status = 'failed' AND created_at >= $3 RETURNING id",
                app_id, endpoint_id, since, now)
            await self._notify_due(tx)
        return len(rows)

    async def delivery_counts(self) -> dict[str, int]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    # -- attempts ------------------------------------------------------------------------
    async def list_attempts(
        self,
        app_id: str,
        limit: int,
        iterator: str | None,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        succeeded: bool | None = None,
        event_types: Sequence[str] | None = None,
        before: float | None = None,
        after: float | None = None,
    ) -> Page:
        types = self.list_param(event_types) if event_types else None
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT a.*, m.event_type FROM attempts a JOIN messages m ON m.id = a.message_id "
                "WHERE a.app_id = $1 AND ($2::text IS NULL OR a.id < $2) "
                "AND ($3::text IS NULL OR a.message_id = $3) "
                "AND ($4::text IS NULL OR a.endpoint_id = $4) "
                "AND ($5::boolean IS NULL OR a.succeeded = $5) "
                f"AND ($6::text[] IS NULL OR m.event_type {self.any_of('$6')}) "
                "AND ($7::float8 IS NULL OR a.created_at < $7) "
                "AND ($8::float8 IS NULL OR a.created_at > $8) "
                "ORDER BY a.id DESC LIMIT $9",
                app_id, iterator, message_id, endpoint_id, succeeded, types, before, after,
                limit + 1)
        return _page([_attempt(r) for r in rows], limit, lambda a: a.id)

    async def get_attempt(self, app_id: str, attempt_id: str) -> Attempt:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM attempts WHERE app_id = $1 AND id = $2", app_id, attempt_id)
        if row is None:
            raise NotFound(f"attempt {attempt_id!r} not found")
        return _attempt(row)


    # -- management API: tokens, catalogue, test sends, endpoint statistics ------------------
    async def insert_api_token(self, token: ApiToken) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_tokens (id, token_hash, app_id, name, read_only, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                token.id, token.token_hash, token.app_id, token.name, token.read_only,
                token.created_at)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) application token with this hash."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
                "AND app_id IS NOT NULL", token_hash)
        return None if row is None else _api_token(row)

    async def list_api_tokens(self, app_id: str) -> list[ApiToken]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM api_tokens WHERE app_id = $1 AND revoked_at IS NULL "
                "ORDER BY created_at, id", app_id)
        return [_api_token(r) for r in rows]

    async def revoke_api_token(self, app_id: str, token_id: str, now: float) -> bool:
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "UPDATE api_tokens SET revoked_at = $3 WHERE app_id = $1 AND id = $2 "
                "AND revoked_at IS NULL RETURNING id", app_id, token_id, now)
        return row is not None

    async def upsert_event_types(self, types: Sequence[EventType]) -> int:
        """Create or replace many event types in one transaction; returns how many were new.
        An existing type keeps its `created_at`."""
        if not types:
            return 0
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT name FROM event_types WHERE name {self.any_of('$1')}",
                self.list_param([et.name for et in types]))
            existing = {r["name"] for r in rows}
            await tx.executemany(
                _UPSERT_EVENT_TYPE, [_event_type_values(et) for et in types])
        return len({et.name for et in types} - existing)

    async def all_event_types(self) -> list[EventType]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT * FROM event_types ORDER BY name")
        return [_event_type(r) for r in rows]

    async def record_test_send(self, message: Message, attempt: Attempt) -> None:
        """Store a test send's message and its one attempt. No delivery row: nothing retries
        it, and `trigger = test` keeps it out of failure streaks and statistics."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                message.id, message.app_id, message.event_type, message.event_id,
                _dump(message.payload), _dump(message.channels), message.created_at)
            await tx.execute(
                "INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, "
                "created_at, succeeded, trigger, status_code, response_body, duration_ms, "
                "error_kind, error_detail, request_headers, attempt_number) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                attempt.id, attempt.delivery_id, attempt.message_id, attempt.endpoint_id,
                attempt.app_id, attempt.url, attempt.created_at, attempt.succeeded,
                str(attempt.trigger), attempt.status_code, attempt.response_body,
                attempt.duration_ms, attempt.error_kind, attempt.error_detail,
                _dump(attempt.request_headers), attempt.attempt_number)

    async def endpoint_delivery_counts(self, app_id: str, endpoint_id: str, since: float,
                                       until: float, now: float) -> dict[str, int]:
        """Deliveries created in [since, until] by state: success, fail, pending, and sending
        (pending and leased by a worker right now)."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT CASE WHEN status = 'succeeded' THEN 'success' "
                "WHEN status = 'failed' THEN 'fail' "
                "WHEN lease_id IS NOT NULL AND next_attempt_at > $5 THEN 'sending' "
                "ELSE 'pending' END AS state, COUNT(*) AS n FROM deliveries "
                "WHERE app_id = $1 AND endpoint_id = $2 AND created_at >= $3 "
                "AND created_at <= $4 GROUP BY 1",
                app_id, endpoint_id, since, until, now)
        counts = {"success": 0, "fail": 0, "pending": 0, "sending": 0}
        counts.update({r["state"]: int(r["n"]) for r in rows})
        return counts

    async def endpoint_attempt_counts(self, app_id: str, endpoint_id: str,
                                      starts: Sequence[float]) -> list[tuple[int, int]]:
        """(succeeded, failed) finished attempts since each time in `starts`; test sends
        excluded."""
        sums = ", ".join(
            f"SUM(CASE WHEN succeeded AND created_at >= ${i + 4} THEN 1 ELSE 0 END) AS ok{i}, "
            f"SUM(CASE WHEN NOT succeeded AND created_at >= ${i + 4} THEN 1 ELSE 0 END) "
            f"AS bad{i}" for i in range(len(starts)))
        async with self.db.connection() as conn:
            [row] = await conn.fetch(
                f"SELECT {sums} FROM attempts WHERE app_id = $1 AND endpoint_id = $2 "
                "AND created_at >= $3 AND trigger <> 'test' AND NOT sending",
                app_id, endpoint_id, min(starts), *starts)
        return [(int(row[f"ok{i}"] or 0), int(row[f"bad{i}"] or 0)) for i in range(len(starts))]

    async def endpoint_hourly_counts(self, app_id: str, endpoint_id: str,
                                     since: float) -> list[tuple[int, int, int]]:
        """(hour number since the epoch, succeeded, failed) for hours with attempts since
        `since`; test sends excluded."""
        # FLOOR is not in every SQLite build; a cast truncates, which floors positive times.
        hour = ("FLOOR(created_at / 3600)" if self.dialect == "postgres"
                else "CAST(created_at / 3600 AS INTEGER)")
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {hour} AS hour, SUM(CASE WHEN succeeded THEN 1 ELSE 0 END) AS ok, "
                "SUM(CASE WHEN succeeded THEN 0 ELSE 1 END) AS bad FROM attempts "
                "WHERE app_id = $1 AND endpoint_id = $2 AND created_at >= $3 "
                "AND trigger <> 'test' AND NOT sending GROUP BY 1", app_id, endpoint_id, since)
        return [(int(r["hour"]), int(r["ok"]), int(r["bad"])) for r in rows]


@dataclass
class _Streak:
    succeeded: bool = False
    failures: int = 0
    failing_since: float | None = None
    last_success_at: float | None = None
    last_attempt_at: float = 0.0


def _failure_streaks(results: Iterable[DeliveryResult]) -> dict[str, _Streak]:
    """Per endpoint, the failures since its last success in this batch (test sends excluded)."""
    streaks: dict[str, _Streak] = {}
    for result in sorted(results, key=lambda r: r.attempt.created_at):
        attempt = result.attempt
        if attempt.trigger == AttemptTrigger.TEST:
            continue
        streak = streaks.setdefault(attempt.endpoint_id, _Streak())
        streak.last_attempt_at = attempt.created_at
        if attempt.succeeded:
            streak.succeeded, streak.failures, streak.failing_since = True, 0, None
            streak.last_success_at = attempt.created_at
        else:
            streak.failures += 1
            if streak.failing_since is None:
                streak.failing_since = attempt.created_at
    return streaks


def _delivery_id(message_id: str, endpoint_id: str) -> str:
    """A delivery is one message to one endpoint, so its id is derived from both."""
    return f"dlv_{message_id.removeprefix('msg_')}_{endpoint_id.removeprefix('ep_')}"


def new_lease_id() -> str:
    return secrets.token_hex(8)


def _now() -> float:
    import time

    return time.time()


def _app(row: Row) -> Application:
    return Application(
        id=row["id"], uid=row["uid"], name=row["name"], metadata=_load(row["metadata"]) or {},
        rate_limit=row["rate_limit"], created_at=row["created_at"], updated_at=row["updated_at"])


_UPSERT_EVENT_TYPE = (
    "INSERT INTO event_types (name, description, schema, example, deprecated, archived, "
    "group_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (name) DO UPDATE SET description = excluded.description, "
    "schema = excluded.schema, example = excluded.example, deprecated = excluded.deprecated, "
    "archived = excluded.archived, group_name = excluded.group_name, "
    "updated_at = excluded.updated_at")


def _event_type_values(et: EventType) -> tuple[Any, ...]:
    return (et.name, et.description, _dump(et.schema), _dump(et.example), et.deprecated,
            et.archived, et.group_name, et.created_at, et.updated_at)


def _event_type(row: Row) -> EventType:
    return EventType(
        name=row["name"], description=row["description"], schema=_load(row["schema"]),
        example=_load(row["example"]), deprecated=bool(row["deprecated"]),
        archived=bool(row["archived"]), group_name=row["group_name"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def _message(row: Row) -> Message:
    return Message(
        id=row["id"], app_id=row["app_id"], event_type=row["event_type"],
        event_id=row["event_id"], payload=json.loads(row["payload"]),
        channels=_load(row["channels"]), created_at=row["created_at"],
        ordering_key=row["ordering_key"])


def _attempt_values(a: Attempt) -> tuple[Any, ...]:
    return (a.id, a.delivery_id, a.message_id, a.endpoint_id, a.app_id, a.url, a.created_at,
            a.succeeded, str(a.trigger), a.status_code, a.response_body, a.duration_ms,
            a.error_kind, a.error_detail, _dump(a.request_headers), a.attempt_number, a.worker)


def _attempt(row: Row) -> Attempt:
    return Attempt(
        id=row["id"], delivery_id=row["delivery_id"], message_id=row["message_id"],
        endpoint_id=row["endpoint_id"], app_id=row["app_id"], url=row["url"],
        created_at=row["created_at"], succeeded=bool(row["succeeded"]),
        trigger=AttemptTrigger(row["trigger"]), status_code=row["status_code"],
        response_body=row["response_body"] or "", duration_ms=row["duration_ms"],
        error_kind=row["error_kind"], error_detail=row["error_detail"],
        request_headers=_load(row["request_headers"]) or {},
        attempt_number=row["attempt_number"], worker=row["worker"],
        sending=bool(row["sending"]))


def _api_token(row: Row) -> ApiToken:
    return ApiToken(id=row["id"], app_id=row["app_id"], name=row["name"],
                    read_only=bool(row["read_only"]), created_at=row["created_at"],
                    token_hash=row["token_hash"])
