"""The delivery queue: claims, results, releases and requeues.

The methods here run named statements (`self.q.<name>`, written in `queries.py`); what
differs between SQLite and PostgreSQL is asked of `self.dialect` (dialect.py), never of its name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..ids import ATTEMPT, new_ids
from ..models import AttemptTrigger, Endpoint, Message
from .core import (
    KEPT_ENDPOINTS,
    Claim,
    Connection,
    DeliveryResult,
    DisableRule,
    FailureStreak,
    Row,
    StoreCore,
    attempt_values,
    delivery_id_for,
    failure_streaks,
    message_from_row,
    new_lease_id,
)
from .fairness import Share, round_robin


class DeliveryQueries(StoreCore):
    """The worker's side of the store."""

    # -- delivery ------------------------------------------------------------------------
    async def claim_due_deliveries(
        self, owner: str, limit: int, now: float, lease: float,
        exclude_endpoints: Sequence[str] = (), room: Mapping[str, int] | None = None,
        default_room: int | None = None, default_cap: int | None = None,
        busy: Mapping[str, int] | None = None,
    ) -> list[Claim]:
        """Lease up to `limit` due deliveries for `lease` seconds, fairly across endpoints
        (docs/fairness.md), skipping disabled and paused endpoints and `exclude_endpoints`
        (those this worker already sends to at their cap); of any one endpoint at most
        `room[endpoint id]` (else `default_room`), what its global cap (its own, else
        `default_cap`) leaves beside the leases of other workers and this worker's `busy`
        requests in flight, and what its rate limit allows. This worker's own leases do not
        count: a lease lasts until its result is stored, well after its request ended."""
        lease_id = new_lease_id()
        default_room = default_room or limit
        default_cap = default_cap or default_room
        busy = busy or {}
        if self.q.claim_due_deliveries is not None:  # one statement, with the messages
            attempt_ids = self._attempt_ids.take(limit)
            async with self.db.connection() as conn:
                rows = await conn.fetch(
                    self.q.claim_due_deliveries, now, limit, lease, owner, lease_id,
                    self.dialect.list_param(exclude_endpoints), json.dumps(dict(room or {})),
                    default_room, default_cap, attempt_ids, json.dumps(dict(busy)))
                # It numbers the leased rows from the first id: the rest serve the next claim.
                self._attempt_ids.give_back(attempt_ids[len(rows):])
                if not rows:
                    return []
                # Each message on the first of its deliveries, as JSON (migration 0032).
                messages = {r["message_id"]: message_from_row(json.loads(r["message"]))
                            for r in rows if r["message"] is not None}
                return await self._claims_of(conn, rows, lease_id, messages,
                                             rows[0]["config_version"])

        async def claim(tx: Connection) -> list[Claim]:
            shares = await self._fair_shares(tx, owner, limit, now, exclude_endpoints,
                                             room or {}, default_room, default_cap, busy)
            picked = round_robin(shares, limit)
            await tx.execute(self.q.record_lost_attempts, self.dialect.list_param(picked), now,
                             lease)
            rows = await tx.fetch(self.q.lease_deliveries, self.dialect.list_param(picked), now,
                                  lease, owner, lease_id,
                                  json.dumps(dict(zip(picked, new_ids(ATTEMPT, len(picked)),
                                                      strict=True))))
            await self._save_flows(tx, shares, rows, now, lease)
            probes = {s.endpoint_id for s in shares if s.probe}
            return await self._claims_from(tx, rows, lease_id, probes)

        # Step by step in one transaction, on SQLite in one hand-off to its thread.
        return await self.db.in_transaction(claim)

    async def _fair_shares(self, tx: Connection, owner: str, limit: int, now: float,
                           exclude: Sequence[str], room: Mapping[str, int], default_room: int,
                           default_cap: int, busy: Mapping[str, int]) -> list[Share]:
        """Step by step, what `hookline_claim` does in one statement: per endpoint with due
        work, its room, then its first attempts and its other due deliveries up to it."""
        shares = []
        for c in await tx.fetch(self.q.claim_candidates, now, limit,
                                self.dialect.list_param(exclude), default_cap, owner):
            share = Share.of(c, now, limit, room.get(c["id"], default_room),
                             busy.get(c["id"], 0))
            for lane in self.q.claim_lanes:
                if len(share.ids) < share.room:
                    share.ids += [r["id"] for r in await tx.fetch(
                        lane, share.endpoint_id, now, share.room - len(share.ids))]
            shares.append(share)
        return shares

    async def _save_flows(self, tx: Connection, shares: Sequence[Share], rows: list[Row],
                          now: float, lease: float) -> None:
        """Take the claim's requests from rate-limit buckets; mark probes in flight."""
        taken = Counter(r["endpoint_id"] for r in rows)
        await tx.executemany(self.q.save_flow, [
            (s.endpoint_id, None if s.tokens is None else s.tokens - taken[s.endpoint_id],
             now, now + lease if s.probe else None)
            for s in shares if taken[s.endpoint_id] and (s.tokens is not None or s.probe)])

    async def _claims_from(self, conn: Connection, rows: list[Row], lease_id: str,
                           probes: set[str]) -> list[Claim]:
        """The claims for leased rows, their messages read here (see `_claims_of`)."""
        if not rows:
            return []
        message_rows = await conn.fetch(
            self.q.claimed_messages,
            self.dialect.list_param(sorted({r["message_id"] for r in rows})))
        return await self._claims_of(
            conn, rows, lease_id, {r["id"]: message_from_row(r) for r in message_rows},
            message_rows[0]["config_version"] if message_rows else None, probes)

    async def _claims_of(self, conn: Connection, rows: list[Row], lease_id: str,
                         messages: dict[str, Message], version: int | None,
                         probes: set[str] | None = None) -> list[Claim]:
        """The claims for leased rows, each with the id of the attempt it starts (stored only
        with its outcome, see `Claim`): what sending needs. Endpoints are those kept for the
        configuration `version` the messages were read with. Probes: from the rows'
        `probe`, else the endpoints in `probes`."""
        endpoints = await self._claimed_endpoints(conn, {r["endpoint_id"] for r in rows},
                                                  version)
        return [
            Claim(r["id"], r["attempt_count"], r["attempt_id"], AttemptTrigger(r["trigger"]),
                  lease_id, messages[r["message_id"]], endpoints[r["endpoint_id"]],
                  bool(r["probe"]) if probes is None else r["endpoint_id"] in probes)
            for r in rows if r["message_id"] in messages and r["endpoint_id"] in endpoints
        ]

    async def _claimed_endpoints(self, conn: Connection, wanted: set[str],
                                 version: int | None) -> dict[str, Endpoint]:
        """The endpoints `wanted`, decoded once per configuration version: a claim reads the
        version with its messages, and only endpoints not kept for it are read."""
        kept = self._claim_endpoints
        if version is None or version != kept.version or len(kept.endpoints) > KEPT_ENDPOINTS:
            kept.version, kept.endpoints = version, {}
        held = kept.endpoints
        found = {e: held[e] for e in wanted if e in held}
        if len(found) < len(wanted):
            read = {row["id"]: self._endpoint(row) for row in await conn.fetch(
                self.q.endpoints_by_id, self.dialect.list_param(sorted(wanted - found.keys())))}
            found.update(read)
            if kept.endpoints is held:  # else a claim meanwhile saw a newer version
                held.update(read)
        return found

    async def record_results(self, results: Sequence[DeliveryResult],
                             should_disable: DisableRule) -> list[Endpoint]:
        """Store attempts and their deliveries' new state in one transaction; update each
        endpoint's failure streak. Endpoints `should_disable` gives a reason for (given the
        endpoint with its new streak, and the time of its last attempt) are disabled here,
        and returned."""
        streaks = failure_streaks(results)

        async def record(tx: Connection) -> list[Endpoint]:
            disabled = []
            for row in await self._store_results(tx, results, streaks):
                if bool(row["disabled"]):
                    continue
                endpoint = self._endpoint(row)
                last_attempt_at = streaks[endpoint.id].last_attempt_at
                reason = should_disable(endpoint, last_attempt_at)
                if reason:
                    await tx.execute(self.q.disable_endpoint, endpoint.id, reason,
                                     last_attempt_at)
                    endpoint.disabled, endpoint.disabled_reason = True, reason
                    disabled.append(endpoint)
            return disabled

        return await self.db.in_transaction(record)

    async def _store_results(self, tx: Connection, results: Sequence[DeliveryResult],
                             streaks: dict[str, FailureStreak]) -> list[Row]:
        """Write attempts, their deliveries' new state and the endpoints' failure streaks;
        returns the endpoint rows updated."""
        attempts = [attempt_values(r.attempt)[:17] for r in results]  # sending: FALSE
        deliveries = [(r.attempt.delivery_id, str(r.status), r.attempt.attempt_number,
                       r.next_attempt_at, r.attempt.created_at, r.lease_id)
                      for r in results if r.attempt.trigger != AttemptTrigger.TEST]
        streak_rows = [(endpoint_id, s.succeeded, s.failures, s.failing_since,
                        s.last_success_at, s.last_attempt_at) for endpoint_id, s in streaks.items()]
        if self.q.record_results is not None:  # the whole batch in one statement
            return await tx.fetch(self.q.record_results, *_columns(attempts, 17),
                                  *_columns(deliveries, 6), *_columns(streak_rows, 6))
        await tx.executemany(self.q.record_attempt, [(*a, False) for a in attempts])
        await tx.executemany(self.q.record_delivery, deliveries)
        rows = []
        for streak in streak_rows:
            row = await tx.fetchrow(self.q.record_failure_streak, *streak)
            if row is not None:
                rows.append(row)
        return rows

    async def release_deliveries(self, claims: Sequence[Claim], at: float) -> None:
        """Hand claimed deliveries back unsent (shutdown, endpoint saturated): no attempt counts."""
        if not claims:
            return
        async with self.db.transaction() as tx:
            await tx.executemany(
                self.q.release_delivery, [(c.delivery_id, at, c.lease_id) for c in claims])
            await tx.executemany(self.q.end_probe,
                                 [(c.endpoint.id, at) for c in claims if c.probe])

    # -- circuits (docs/fairness.md) -----------------------------------------------------
    async def pause_endpoint(self, endpoint_id: str, until: float, seconds: float,
                             reason: str) -> None:
        """Open its circuit: no claim takes its deliveries before `until`, then one probe."""
        async with self.db.connection() as conn:
            await conn.execute(self.q.set_circuit, endpoint_id, until, seconds, reason)

    async def resume_endpoint(self, endpoint_id: str) -> None:
        """Close its circuit (its probe got through)."""
        async with self.db.connection() as conn:
            await conn.execute(self.q.set_circuit, endpoint_id, None, 0.0, None)

    async def endpoint_pause(self, endpoint_id: str) -> tuple[float | None, float]:
        """(paused until, the pause's length in seconds) of its circuit; (None, 0) closed."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.get_circuit, endpoint_id)
        if row is None:
            return None, 0.0
        return row["paused_until"], float(row["pause_seconds"])

    async def open_circuit_count(self) -> int:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.open_circuits)
        return 0 if row is None else int(row["n"])

    async def next_due_at(self) -> float | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(self.q.next_due_at)
        return None if row is None else row["due"]

    async def requeue_delivery(
        self, app_id: str, message_id: str, endpoint_id: str, now: float,
        trigger: AttemptTrigger = AttemptTrigger.MANUAL,
    ) -> None:
        """Resend: make the delivery due now with a fresh retry budget, creating it if the
        endpoint was never sent this message."""
        async with self.db.transaction() as tx:
            await tx.execute(
                self.q.requeue_delivery,
                delivery_id_for(message_id, endpoint_id), message_id, endpoint_id, app_id, now,
                str(trigger))
            await self._notify_due(tx)

    async def requeue_failed_since(self, app_id: str, endpoint_id: str, since: float,
                                   now: float, until: float | None = None) -> int:
        """Recover: every failed delivery of an endpoint created in [since, until] is due
        again, with a fresh retry budget."""
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                self.q.requeue_failed_since, app_id, endpoint_id, since, now, until)
            await self._notify_due(tx)
        return len(rows)

    async def delivery_counts(self) -> dict[str, int]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(self.q.delivery_counts)
        return {r["status"]: int(r["n"]) for r in rows}


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in
                                                                                range(width)]
