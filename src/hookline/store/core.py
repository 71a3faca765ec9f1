"""Store internals shared by the query modules: driver protocols, records, row mapping.

What every subject module needs lives here: the `Connection`/`Database` driver protocols each
database implements, the records the store returns, and the functions that turn a domain
object into a statement's values and a row back into a domain object. SQL does not: it is in
`queries.py`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol, TypeVar

from ..ids import ATTEMPT, IdReserve
from ..models import (
    Application,
    Attempt,
    AttemptTrigger,
    DeliveryOptions,
    DeliveryStatus,
    DisabledBy,
    Endpoint,
    EventType,
    Message,
)
from ..secretbox import SecretBox
from ..tokens import ApiToken
from .dialect import Dialect
from .queries import queries_for
from .wakeups import CoalescedWake

IDEMPOTENCY_WINDOW = 24 * 3600.0
T = TypeVar("T")
Row = Any  # sqlite3.Row or asyncpg.Record: both index by column name


WriteStep = tuple[str, Sequence[Sequence[Any]]]  # a statement and the rows to run it over
Guard = tuple[str, Any]  # a statement answering one value, and the value a write expects


class Connection(Protocol):
    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...


class Database(Protocol):
    """A connection pool (PostgreSQL) or a serialized connection (SQLite)."""

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...
    def connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def write_atomically(self, steps: Sequence[WriteStep],
                               guard: Guard | None = None) -> bool:
        """Run each statement over its rows, all or nothing, as cheaply as the driver can
        (SQLite: one hand-off to the database thread); joins the transaction this task has
        open. With a `guard`, only if its statement's value is still the one expected:
        returns whether it wrote."""
        ...

    async def in_transaction(self, body: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """`await body(tx)` in one transaction (a savepoint, inside one this task has open),
        as cheaply as the driver can: SQLite runs the whole body on its database thread in
        one hand-off. So the body awaits only its connection's statements: no other store
        call, no lock, no sleep, no `after_commit`."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction this task has open commits (never, if it
        rolls back); at once if none is open."""
        ...

    async def close(self) -> None: ...


@dataclass
class Page:
    data: list[Any]
    iterator: str | None
    done: bool
    # Svix's prevIterator: `-` and the first key of the page, which reads the page before it.
    prev_iterator: str | None = None


@dataclass(frozen=True)
class Window:
    """Which page of a list to read: the rows past `bound` in the list's order (`ascending`),
    or, `backwards`, the rows before it (a prevIterator), still shown in the list's order."""

    bound: str | None = None
    ascending: bool = True
    backwards: bool = False

    @property
    def reads_ascending(self) -> bool:
        return self.ascending != self.backwards

    @property
    def after(self) -> str | None:
        return self.bound if self.reads_ascending else None

    @property
    def before(self) -> str | None:
        return None if self.reads_ascending else self.bound


@dataclass
class Claim:
    """A delivery this worker holds for the lease; nobody else sends it meanwhile.

    The attempt it starts (`attempt_id`) is stored once, with its outcome; meanwhile its id
    stays in the delivery. If the worker dies, the next claim of the delivery stores that
    attempt as lost (*worker_lost*), and it counts against the retry budget, so a message that
    crashes workers cannot loop forever.
    """

    delivery_id: str
    attempt_number: int
    attempt_id: str
    trigger: AttemptTrigger
    lease_id: str
    message: Message
    endpoint: Endpoint
    # The one request let through to an endpoint whose circuit's pause ended (half open): its
    # outcome closes the circuit or opens it again (docs/fairness.md).
    probe: bool = False


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


DisableRule = Callable[[Endpoint, float], str | None]
"""Why an endpoint with its new failure streak, at the time of its last attempt, should be
disabled, or None: the retry policy's rule, passed to `Store.record_results`."""
Select = Callable[[Message, list[Subscription]], list[Subscription]]
"""Which of an application's endpoints get a message: fan-out's rule, passed to `publish`."""


@dataclass
class PublishResult:
    message: Message
    created: bool
    endpoint_ids: list[str] = field(default_factory=list)


def dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def make_page(rows: list[Any], limit: int, key: Callable[[Any], str]) -> Page:
    done = len(rows) <= limit
    rows = rows[:limit]
    return Page(rows, key(rows[-1]) if rows else None, done)


def as_window(iterator: str | Window | None, ascending: bool = True) -> Window:
    """A plain iterator (a key) as the window it reads, in the list's order."""
    return iterator if isinstance(iterator, Window) else Window(iterator, ascending)


def window_page(rows: list[Any], limit: int, key: Callable[[Any], str],
                window: Window) -> Page:
    """A page of up to `limit` of `rows` (read `limit + 1` to know whether more follow), read
    as `window` says, shown in the list's order, with both iterators."""
    done = len(rows) <= limit
    rows = rows[:limit]
    if window.backwards:
        rows.reverse()
    if not rows:
        return Page([], None, True)
    return Page(rows, key(rows[-1]), done, "-" + key(rows[0]))


@dataclass
class KeptEndpoints:
    """The endpoints claims have read, decoded, as of one configuration version (whatever
    changes an endpoint's settings moves it); a worker's own, never shown."""

    version: int | None = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)


# More endpoints than this kept, and they are read afresh.
KEPT_ENDPOINTS = 4096

# A claim's unused attempt ids serve the next claim for this long (claims come every few ms
# under load), so an attempt's id is still made within moments of its claim.
ATTEMPT_IDS_AGE = 0.050


class StoreCore:
    """The driver, the dialect's statements and the secret box: what every query module
    needs. `SqlStore` (sql.py) combines the query modules on top of this."""

    def __init__(self, db: Database, box: SecretBox, dialect: Dialect) -> None:
        self.db = db
        self.box = box
        self.dialect = dialect
        self.q = queries_for(dialect)
        self._wake_others: CoalescedWake | None = None
        self._attempt_ids = IdReserve(ATTEMPT, ATTEMPT_IDS_AGE)
        self._claim_endpoints = KeptEndpoints()

    # -- lifecycle -----------------------------------------------------------------------
    async def migrate(self) -> list[int]:
        """Apply the numbered migrations not applied yet; returns the versions applied."""
        folder = resources.files("hookline.store") / "migrations"
        scripts = sorted(
            (int(entry.name.split("_")[0]), entry.read_text())
            for entry in folder.iterdir() if self.dialect.runs_migration(entry.name)
        )
        applied: list[int] = []
        async with self.db.transaction() as tx:
            if self.dialect.lock_migrations:
                await tx.execute(self.dialect.lock_migrations)
            await tx.execute(self.q.create_migrations_table)
            done = {r["version"] for r in await tx.fetch(self.q.applied_migrations)}
            for version, script in scripts:
                if version in done:
                    continue
                await self._run_script(tx, script)
                await tx.execute(self.q.record_migration, version, epoch_now())
                applied.append(version)
        return applied

    async def _notify_due(self, tx: Connection) -> None:
        """Tell other processes' workers that deliveries became due, where the dialect can."""
        if self.dialect.notify_due:
            await tx.execute(self.dialect.notify_due)

    def _announce_due(self) -> None:
        """After a publish commits: `_notify_due`, soon and coalesced with other publishes
        (NOTIFY serializes the commits of the transactions that send it)."""
        if not self.dialect.notify_due:
            return
        if self._wake_others is None:
            self._wake_others = CoalescedWake(self._notify_now)
        self.after_commit(self._wake_others)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction this task has open commits (never, if it
        rolls back), or at once if none is: for work that must see what it wrote."""
        self.db.after_commit(callback)

    async def _notify_now(self) -> None:
        async with self.db.connection() as conn:
            await self._notify_due(conn)

    async def config_version(self) -> int:
        """The configuration version: it moves whenever an application, an endpoint's
        settings, an event type, a token or the admin token changes, in any process."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.config_version)
        return 0 if row is None else int(row["version"])

    async def _run_script(self, tx: Connection, script: str) -> None:
        for statement in script.split(";\n"):
            if statement.strip():
                await tx.execute(statement)

    async def close(self) -> None:
        if self._wake_others is not None:
            await self._wake_others.close()
        await self.db.close()

    async def ping(self) -> None:
        async with self.db.connection() as conn:
            await conn.fetchrow(self.q.ping)

    # -- settings kept in the database ----------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_meta, key)
        return None if row is None else row["value"]

    async def set_meta(self, key: str, value: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(self.q.set_meta, key, value)

    # -- endpoint rows ---------------------------------------------------------------
    def _endpoint_values(self, ep: Endpoint) -> tuple[Any, ...]:
        sealed_prev = self.box.seal(ep.previous_secret) if ep.previous_secret else None
        return (
            ep.id, ep.app_id, ep.uid, ep.url, ep.description, dump_json(ep.filter_types),
            dump_json(ep.channels), ep.disabled, ep.disabled_reason, self.box.seal(ep.secret),
            sealed_prev, ep.previous_secret_expires_at,
            self.box.seal(dump_json(ep.headers) or "{}"), dump_json(ep.metadata),
            dump_json(ep.options.to_json()), ep.created_at, ep.updated_at,
        )

    def _endpoint(self, row: Row) -> Endpoint:
        prev = row["previous_secret"]
        return Endpoint(
            id=row["id"], app_id=row["app_id"], uid=row["uid"], url=row["url"],
            description=row["description"], filter_types=load_json(row["filter_types"]),
            channels=load_json(row["channels"]), disabled=bool(row["disabled"]),
            disabled_reason=row["disabled_reason"], secret=self.box.open(row["secret"]),
            previous_secret=self.box.open(prev) if prev else None,
            previous_secret_expires_at=row["previous_secret_expires_at"],
            headers=json.loads(self.box.open(row["headers"])),
            metadata=load_json(row["metadata"]) or {},
            options=DeliveryOptions.from_json(load_json(row["options"])),
            consecutive_failures=row["consecutive_failures"],
            failing_since=row["failing_since"], last_attempt_at=row["last_attempt_at"],
            last_success_at=row["last_success_at"], created_at=row["created_at"],
            updated_at=row["updated_at"],
            disabled_by=DisabledBy(row["disabled_by"]) if row["disabled_by"] else None,
            missed_since=row["missed_since"], next_probe_at=row["next_probe_at"],
            probes_made=row["probes_made"],
        )


@dataclass
class FailureStreak:
    succeeded: bool = False
    failures: int = 0
    failing_since: float | None = None
    last_success_at: float | None = None
    last_attempt_at: float = 0.0


def failure_streaks(results: Iterable[DeliveryResult]) -> dict[str, FailureStreak]:
    """Per endpoint, the failures since its last success in this batch (test sends excluded)."""
    streaks: dict[str, FailureStreak] = {}
    for result in sorted(results, key=lambda r: r.attempt.created_at):
        attempt = result.attempt
        if attempt.trigger == AttemptTrigger.TEST:
            continue
        streak = streaks.setdefault(attempt.endpoint_id, FailureStreak())
        streak.last_attempt_at = attempt.created_at
        if attempt.succeeded:
            streak.succeeded, streak.failures, streak.failing_since = True, 0, None
            streak.last_success_at = attempt.created_at
        else:
            streak.failures += 1
            if streak.failing_since is None:
                streak.failing_since = attempt.created_at
    return streaks


def delivery_id_for(message_id: str, endpoint_id: str) -> str:
    """A delivery is one message to one endpoint, so its id is derived from both."""
    return f"dlv_{message_id.removeprefix('msg_')}_{endpoint_id.removeprefix('ep_')}"


def new_lease_id() -> str:
    return secrets.token_hex(8)


def epoch_now() -> float:
    import time

    return time.time()


def app_from_row(row: Row) -> Application:
    return Application(
        id=row["id"], uid=row["uid"], name=row["name"], metadata=load_json(row["metadata"]) or {},
        rate_limit=row["rate_limit"], created_at=row["created_at"], updated_at=row["updated_at"],
        auto_recover=bool(row["auto_recover"]))


def event_type_values(et: EventType) -> tuple[Any, ...]:
    return (et.name, et.description, dump_json(et.schema), dump_json(et.example), et.deprecated,
            et.archived, et.group_name, et.created_at, et.updated_at, dump_json(et.feature_flags))


def event_type_from_row(row: Row) -> EventType:
    return EventType(
        name=row["name"], description=row["description"], schema=load_json(row["schema"]),
        example=load_json(row["example"]), deprecated=bool(row["deprecated"]),
        archived=bool(row["archived"]), group_name=row["group_name"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        feature_flags=load_json(row["feature_flags"]))


def message_from_row(row: Row) -> Message:
    return Message(
        id=row["id"], app_id=row["app_id"], event_type=row["event_type"],
        event_id=row["event_id"], payload=json.loads(row["payload"]),
        channels=load_json(row["channels"]), created_at=row["created_at"],
        ordering_key=row["ordering_key"], expunged=row["expunged_at"] is not None,
        tags=load_json(row["tags"]), deliver_at=row["deliver_at"],
        traceparent=row["traceparent"])


def attempt_values(a: Attempt) -> tuple[Any, ...]:
    """The values of `Queries.insert_attempt`, in its column order."""
    return (a.id, a.delivery_id, a.message_id, a.endpoint_id, a.app_id, a.url, a.created_at,
            a.succeeded, str(a.trigger), a.status_code, a.response_body, a.duration_ms,
            a.error_kind, a.error_detail, dump_json(a.request_headers), a.attempt_number, a.worker,
            a.sending)


def message_values(m: Message, payload_text: str | None = None) -> tuple[Any, ...]:
    """The values of `Queries.insert_message`, in its column order; `payload_text`: the
    payload already encoded as `dump_json` would (saves encoding it twice)."""
    return (m.id, m.app_id, m.event_type, m.event_id,
            dump_json(m.payload) if payload_text is None else payload_text,
            dump_json(m.channels), m.created_at, m.ordering_key)


def attempt_from_row(row: Row) -> Attempt:
    return Attempt(
        id=row["id"], delivery_id=row["delivery_id"], message_id=row["message_id"],
        endpoint_id=row["endpoint_id"], app_id=row["app_id"], url=row["url"],
        created_at=row["created_at"], succeeded=bool(row["succeeded"]),
        trigger=AttemptTrigger(row["trigger"]), status_code=row["status_code"],
        response_body=row["response_body"] or "", duration_ms=row["duration_ms"],
        error_kind=row["error_kind"], error_detail=row["error_detail"],
        request_headers=load_json(row["request_headers"]) or {},
        attempt_number=row["attempt_number"], worker=row["worker"],
        sending=bool(row["sending"]), expunged=bool(row["expunged"]))


def _api_token(row: Row) -> ApiToken:
    return ApiToken(id=row["id"], app_id=row["app_id"], name=row["name"],
                    read_only=bool(row["read_only"]), created_at=row["created_at"],
                    token_hash=row["token_hash"])
