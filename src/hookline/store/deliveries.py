"""The delivery queue: claims, results, releases and requeues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ids import ATTEMPT, new_id
from ..models import AttemptTrigger, Endpoint
from .core import (
    Claim,
    Connection,
    DeliveryResult,
    FailureStreak,
    Row,
    StoreCore,
    attempt_values,
    delivery_id_for,
    failure_streaks,
    message_from_row,
)

# An endpoint's failure streak after a batch ($2 a success in it, $3 failures since the last
# success, $4 failing since, $5 last success, $6 last attempt).
STREAK_SET = (
    "consecutive_failures = CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END, "
    "failing_since = CASE WHEN $2 THEN $4 ELSE COALESCE(failing_since, $4) END, "
    "last_success_at = COALESCE($5, last_success_at), last_attempt_at = $6")


def delivery_values(results: Sequence[DeliveryResult]) -> list[tuple[Any, ...]]:
    """(id, status, attempt count, next attempt, last attempt, lease) of each delivery a batch
    of results moves on (test sends belong to no delivery's schedule)."""
    return [(r.attempt.delivery_id, str(r.status), r.attempt.attempt_number,
             r.next_attempt_at, r.attempt.created_at, r.lease_id)
            for r in results if r.attempt.trigger != AttemptTrigger.TEST]


class DeliveryQueries(StoreCore):
    """The worker's side of the store."""

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
        messages = {r["id"]: message_from_row(r) for r in await conn.fetch(
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

        streaks = failure_streaks(results)
        disabled: list[Endpoint] = []
        async with self.db.transaction() as tx:
            rows = await self._store_results(tx, results, streaks)
            for row in rows:
                if bool(row["disabled"]):
                    continue
                endpoint = self._endpoint(row)
                last_attempt_at = streaks[endpoint.id].last_attempt_at
                reason = should_disable(endpoint, last_attempt_at)
                if reason:
                    await tx.execute(
                        "UPDATE endpoints SET disabled = TRUE, disabled_reason = $2, "
                        "updated_at = $3 WHERE id = $1",
                        endpoint.id, reason, last_attempt_at)
                    endpoint.disabled, endpoint.disabled_reason = True, reason
                    disabled.append(endpoint)
        return disabled

    async def _store_results(self, tx: Connection, results: Sequence[DeliveryResult],
                             streaks: dict[str, FailureStreak]) -> list[Row]:
        """Write the attempts, the deliveries' new state and the endpoints' streaks; returns
        the endpoint rows updated."""
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
            [attempt_values(r.attempt) for r in results])
        await tx.executemany(
            "UPDATE deliveries SET status = $2, attempt_count = $3, next_attempt_at = $4, "
            "last_attempt_at = $5, lease_owner = NULL, lease_id = NULL, "
            "trigger = 'scheduled' "
            "WHERE id = $1 AND ($6::text IS NULL OR lease_id = $6 OR lease_id IS NULL)",
            delivery_values(results))
        rows = []
        for endpoint_id, streak in streaks.items():
            row = await tx.fetchrow(
                f"UPDATE endpoints SET {STREAK_SET} WHERE id = $1 RETURNING *",
                endpoint_id, streak.succeeded, streak.failures, streak.failing_since,
                streak.last_success_at, streak.last_attempt_at)
            if row is not None:
                rows.append(row)
        return rows

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
                delivery_id_for(message_id, endpoint_id), message_id, endpoint_id, app_id, now,
                str(trigger))
            await self._notify_due(tx)

    async def requeue_failed_since(self, app_id: str, endpoint_id: str, since: float,
                                   now: float, until: float | None = None) -> int:
        """Recover: every failed delivery of an endpoint created in [since, until] is due
        again, with a fresh retry budget."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE deliveries SET status = 'pending', attempt_count = 0, "
                "next_attempt_at = $4, trigger = 'manual' WHERE app_id = $1 AND "
                "endpoint_id = $2 AND status = 'failed' AND created_at >= $3 "
                "AND ($5::float8 IS NULL OR created_at <= $5) RETURNING id",
                app_id, endpoint_id, since, now, until)
            await self._notify_due(tx)
        return len(rows)

    async def delivery_counts(self) -> dict[str, int]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}
