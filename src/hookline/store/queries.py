"""Every statement Hookline runs, written once and named, grouped by subject.

A new query goes here, as an attribute of `Queries`, and the subject module (`resources.py`,
`messages.py`, ...) runs it as `self.q.<name>`. Placeholders are `$n`; where SQLite and
PostgreSQL need different SQL, the statement asks the dialect (`d.cast`, `d.any_of`, ...), so
the text each database sees is composed once, when the store is built (see `dialect.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from .dialect import Dialect

ATTEMPT_COLUMNS = (
    "id, delivery_id, message_id, endpoint_id, app_id, url, created_at, succeeded, trigger, "
    "status_code, response_body, duration_ms, error_kind, error_detail, request_headers, "
    "attempt_number, worker, sending")
MESSAGE_COLUMNS = (
    "id, app_id, event_type, event_id, payload, channels, created_at, ordering_key")
ENDPOINT_COLUMNS = (
    "id, app_id, uid, url, description, filter_types, channels, disabled, disabled_reason, "
    "secret, previous_secret, previous_secret_expires_at, headers, metadata, options, "
    "created_at, updated_at")
# Deleting an application deletes what hangs off it first (no ON DELETE CASCADE in the schema).
APP_TABLES = ("attempts", "deliveries", "idempotency_keys", "messages", "endpoints",
              "api_tokens", "portal_links", "portal_sessions", "attempt_rollups",
              "delivery_rollups", "background_tasks", "feed_consumers")
ROLLUP_TABLES = ("attempt_rollups", "delivery_rollups")
PORTAL_TABLES = ("portal_links", "portal_sessions")
# What an attempt whose outcome was never stored says (see `record_lost_attempts`).
LOST = "the worker stopped before recording an outcome; sent again"
# A test send stores its message (with no delivery): it was never published to anyone.
NOT_A_TEST_SEND = ("NOT EXISTS (SELECT 1 FROM attempts t WHERE t.app_id = m.app_id "
                   "AND t.message_id = m.id AND t.trigger = 'test')")


def _both_ways(select: str, key: str, after: str, before: str, limit: str,
               cast: Callable[[str, str], str]) -> dict[bool, str]:
    """`select` (with `{bounds}` where the window's bounds go) ordered by `key`, ascending
    (True) and descending (False), keys after `after` and before `before` when not null."""
    bounds = (f"({cast(after, 'text')} IS NULL OR {key} > {after}) "
              f"AND ({cast(before, 'text')} IS NULL OR {key} < {before})")
    query = select.format(bounds=bounds)
    return {True: f"{query} ORDER BY {key} LIMIT {limit}",
            False: f"{query} ORDER BY {key} DESC LIMIT {limit}"}


def _reversed(query: str) -> str:
    """`query` with its last ORDER BY's direction turned round."""
    head, order, tail = query.rpartition(" ORDER BY ")
    key, _, limit = tail.partition(" LIMIT ")
    column = key.removesuffix(" DESC")
    return f"{head}{order}{column if key.endswith(' DESC') else column + ' DESC'} LIMIT {limit}"


def _values(count: int) -> str:
    return "VALUES (" + ", ".join(f"${i}" for i in range(1, count + 1)) + ")"



# The two lanes of an endpoint's queue (migration 0026 indexes each): first attempts go before
# retries, replays and probes, so those never hold back live traffic.
def _first_lane(endpoint: str) -> str:
    return (f"WHERE d.endpoint_id = {endpoint} AND d.status = 'pending' "
            "AND d.attempt_count = 0 AND d.trigger = 'scheduled'")


def _other_lane(endpoint: str) -> str:
    return (f"WHERE d.endpoint_id = {endpoint} AND d.status = 'pending' "
            "AND (d.attempt_count > 0 OR d.trigger <> 'scheduled')")


class Queries:
    """The statements of one dialect. Build it with `queries_for(dialect)`."""

    def __init__(self, d: Dialect) -> None:
        cast = d.cast
        self.dialect = d

        # -- lifecycle and meta ----------------------------------------------------------
        self.create_migrations_table = (
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        self.applied_migrations = "SELECT version FROM schema_migrations"
        self.record_migration = (
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
        self.ping = "SELECT 1 AS ok"
        self.get_meta = "SELECT value FROM meta WHERE key = $1"
        # Moved by triggers (migration 0012) on every change to what servers cache.
        self.config_version = "SELECT version FROM config_version WHERE id = 1"
        self.set_meta = ("INSERT INTO meta (key, value) VALUES ($1, $2) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value")

        # -- applications ----------------------------------------------------------------
        self.insert_app = (
            "INSERT INTO applications (id, uid, name, metadata, rate_limit, created_at, "
            f"updated_at) {_values(7)}")
        self.get_app = "SELECT * FROM applications WHERE id = $1 OR uid = $1"
        # Lists read a window (store/core.py `Window`): keys after $a and before $b, in the
        # order asked; each is a pair of statements, by whether it reads ascending.
        self.list_apps = _both_ways(
            "SELECT * FROM applications WHERE {bounds}", "id", "$1", "$2", "$3", cast)
        self.update_app = (
            "UPDATE applications SET uid = $2, name = $3, metadata = $4, rate_limit = $5, "
            "updated_at = $6 WHERE id = $1")
        self.delete_app = (
            *(f"DELETE FROM {table} WHERE app_id = $1" for table in APP_TABLES),
            "DELETE FROM idempotent_requests WHERE scope = $1",
            "DELETE FROM applications WHERE id = $1")

        # -- event types -----------------------------------------------------------------
        self.upsert_event_type = (
            "INSERT INTO event_types (name, description, schema, example, deprecated, "
            f"archived, group_name, created_at, updated_at, feature_flags) {_values(10)} "
            "ON CONFLICT (name) DO UPDATE SET description = excluded.description, "
            "schema = excluded.schema, example = excluded.example, "
            "deprecated = excluded.deprecated, archived = excluded.archived, "
            "group_name = excluded.group_name, updated_at = excluded.updated_at, "
            "feature_flags = excluded.feature_flags")
        self.get_event_type = "SELECT * FROM event_types WHERE name = $1"
        self.event_type_names = f"SELECT name FROM event_types WHERE name {d.any_of('$1')}"
        self.list_event_types = _both_ways(
            "SELECT * FROM event_types WHERE ($3 OR NOT archived) AND {bounds}", "name",
            "$1", "$2", "$4", cast)
        self.all_event_types = "SELECT * FROM event_types ORDER BY name"
        self.delete_event_type = "DELETE FROM event_types WHERE name = $1"

        # -- endpoints -------------------------------------------------------------------
        self.insert_endpoint = f"INSERT INTO endpoints ({ENDPOINT_COLUMNS}) {_values(17)}"
        # A re-enabled endpoint starts its failure count afresh.
        self.update_endpoint = (
            "UPDATE endpoints SET app_id = $2, uid = $3, url = $4, description = $5, "
            "filter_types = $6, channels = $7, disabled = $8, disabled_reason = $9, "
            "secret = $10, previous_secret = $11, previous_secret_expires_at = $12, "
            "headers = $13, metadata = $14, options = $15, created_at = $16, "
            "updated_at = $17, "
            "consecutive_failures = CASE WHEN $8 THEN consecutive_failures ELSE 0 END, "
            "failing_since = CASE WHEN $8 THEN failing_since ELSE NULL END, "
            # $18: who disabled it. Probing stops unless its failure rule did.
            "disabled_by = $18, "
            "missed_since = CASE WHEN $8 THEN missed_since ELSE NULL END, "
            "next_probe_at = CASE WHEN $18 = 'rule' THEN next_probe_at ELSE NULL END, "
            "probes_made = CASE WHEN $18 = 'rule' THEN probes_made ELSE 0 END "
            "WHERE id = $1")
        self.get_endpoint = "SELECT * FROM endpoints WHERE app_id = $1 AND (id = $2 OR uid = $2)"
        self.list_endpoints = _both_ways(
            "SELECT * FROM endpoints WHERE app_id = $1 AND {bounds}", "id", "$2", "$3", "$4",
            cast)
        self.endpoints_by_id = f"SELECT * FROM endpoints WHERE id {d.any_of('$1')}"
        # Only what routing needs: no secrets are decrypted on the publish path.
        # A polling endpoint (url 'poller:') is routed as disabled: nothing is pushed to it.
        self.subscriptions = (
            "SELECT id, filter_types, channels, (disabled OR url = 'poller:') AS disabled "
            "FROM endpoints WHERE app_id = $1 ORDER BY id")
        self.delete_endpoint = (
            "DELETE FROM deliveries WHERE endpoint_id = $1 AND app_id = $2",
            *(f"DELETE FROM {table} WHERE endpoint_id = $1 AND app_id = $2"
              for table in ROLLUP_TABLES),
            "DELETE FROM feed_consumers WHERE endpoint_id = $1 AND app_id = $2",
            "DELETE FROM endpoints WHERE id = $1 AND app_id = $2")
        self.record_failure_streak = (
            "UPDATE endpoints SET "
            "consecutive_failures = CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END, "
            "failing_since = CASE WHEN $2 THEN $4 ELSE COALESCE(failing_since, $4) END, "
            "last_success_at = COALESCE($5, last_success_at), last_attempt_at = $6 "
            "WHERE id = $1 RETURNING *")
        # By its failure rule: it missed the messages of the deliveries that failed since its
        # failures began, and everything after.
        self.disable_endpoint = (
            "UPDATE endpoints SET disabled = TRUE, disabled_reason = $2, updated_at = $3, "
            "disabled_by = 'rule', missed_since = COALESCE((SELECT MIN(d.created_at) "
            "FROM deliveries d WHERE d.endpoint_id = endpoints.id AND d.status <> 'succeeded' "
            "AND d.last_attempt_at >= endpoints.failing_since), failing_since, $3), "
            "next_probe_at = NULL, probes_made = 0 WHERE id = $1")

        # -- self-healing (service/recovery.py) --------------------------------------------
        self.endpoints_to_probe = (
            "SELECT * FROM endpoints WHERE disabled_by = 'rule' AND disabled "
            "AND (next_probe_at IS NULL OR next_probe_at <= $1) ORDER BY next_probe_at "
            "LIMIT $2")
        # Sets the next probe if it is still the one the caller saw ($3; -1: none yet), so of
        # two processes one probes.
        self.move_probe = (
            "UPDATE endpoints SET next_probe_at = $2, probes_made = $4 WHERE id = $1 "
            "AND disabled AND disabled_by = 'rule' AND COALESCE(next_probe_at, -1) = $3 "
            "RETURNING id")
        self.stop_probing = (
            "UPDATE endpoints SET next_probe_at = NULL WHERE id = $1 AND disabled_by = 'rule'")
        self.enable_endpoint = (
            "UPDATE endpoints SET disabled = FALSE, disabled_reason = NULL, disabled_by = NULL, "
            "missed_since = NULL, next_probe_at = NULL, probes_made = 0, "
            "consecutive_failures = 0, failing_since = NULL, updated_at = $2 "
            "WHERE id = $1 AND disabled RETURNING *")
        # Messages of an application since $3, after id $4, that endpoint $2 has not had
        # delivered: none made, or one not succeeded ($6: pending ones too).
        self.undelivered_messages = (
            "SELECT m.*, d.status AS delivery_status FROM messages m "
            "LEFT JOIN deliveries d ON d.message_id = m.id AND d.endpoint_id = $2 "
            "WHERE m.app_id = $1 AND m.created_at >= $3 AND m.id > $4 "
            f"AND ({cast('$5', 'float8')} IS NULL OR m.created_at <= $5) "
            "AND (d.id IS NULL OR d.status = 'failed' OR ($6 AND d.status = 'pending')) "
            f"AND {NOT_A_TEST_SEND} ORDER BY m.id LIMIT $7")
        # How many messages of application $1 since $4 (ids from $3) endpoint $2 has not had
        # delivered, of event types matching $5 and sharing a channel of $6 (NULL: any): a
        # disabled endpoint's waitingCount, over the index of an application's messages.
        self.count_missed = (
            "SELECT COUNT(*) AS n FROM messages m WHERE m.app_id = $1 AND m.id >= $3 "
            f"AND m.created_at >= $4 AND ({cast('$5', 'text[]')} IS NULL "
            f"OR {d.matches_any('m.event_type', '$5')}) AND ({cast('$6', 'text[]')} IS NULL "
            f"OR {d.json_list_shares('m.channels', '$6')}) AND NOT EXISTS (SELECT 1 "
            "FROM deliveries d WHERE d.message_id = m.id AND d.endpoint_id = $2 "
            f"AND d.status = 'succeeded') AND {NOT_A_TEST_SEND}")
        # Due again now with a fresh budget (made if missing), unless a worker holds it.
        self.replay_delivery = (
            "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
            "VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7, $8) "
            "ON CONFLICT (id) DO UPDATE SET status = 'pending', attempt_count = 0, "
            "next_attempt_at = $5, trigger = $6, created_at = $7, ordering_key = $8, "
            "lease_owner = NULL, lease_id = NULL WHERE deliveries.status <> 'pending' "
            "OR deliveries.lease_id IS NULL OR deliveries.next_attempt_at <= $5")
        # A probe's delivery: made if missing, left alone otherwise (the endpoint is disabled,
        # so no worker takes it).
        self.ensure_delivery = (
            "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
            "VALUES ($1, $2, $3, $4, 'pending', 0, $5, 'scheduled', $5, $6) "
            "ON CONFLICT (id) DO NOTHING")
        self.delivery_attempt_count = "SELECT attempt_count FROM deliveries WHERE id = $1"
        # A bulk replay's candidates: messages of [$2, $3] with a delivery to endpoint $1,
        # after id $4, with the delivery's state and its last answered status code.
        self.delivered_messages = (
            "SELECT m.*, d.status AS delivery_status, "
            "(d.lease_id IS NOT NULL AND d.status = 'pending') AS delivery_leased, "
            "(SELECT a.status_code FROM attempts a WHERE a.app_id = d.app_id "
            "AND a.message_id = d.message_id AND a.endpoint_id = d.endpoint_id "
            "AND NOT a.sending ORDER BY a.id DESC LIMIT 1) AS last_status_code "
            "FROM deliveries d JOIN messages m ON m.id = d.message_id "
            "WHERE d.endpoint_id = $1 AND m.created_at >= $2 "
            f"AND ({cast('$3', 'float8')} IS NULL OR m.created_at <= $3) AND m.id > $4 "
            "ORDER BY m.id LIMIT $5")
        self.set_app_auto_recover = "UPDATE applications SET auto_recover = $2 WHERE id = $1"
        # Whether the attempt before $4 of message $2 to endpoint $3 failed (a success after
        # it is `message.attempt.recovered`).
        self.failed_before = (
            "SELECT NOT a.succeeded AS failed FROM attempts a WHERE a.app_id = $1 "
            "AND a.message_id = $2 AND a.endpoint_id = $3 AND a.id < $4 AND NOT a.sending "
            "AND a.trigger <> 'test' ORDER BY a.id DESC LIMIT 1")

        # -- pull feeds (service/feed.py) -------------------------------------------------
        self.feed_of_app = (
            f"SELECT * FROM messages m WHERE app_id = $1 AND id > $2 AND {NOT_A_TEST_SEND} "
            "ORDER BY id LIMIT $3")
        self.feed_of_endpoint = (
            "SELECT m.* FROM deliveries d JOIN messages m ON m.id = d.message_id "
            "WHERE d.endpoint_id = $1 AND d.message_id > $2 "
            "ORDER BY d.message_id LIMIT $3")
        self.get_feed_position = (
            "SELECT position FROM feed_consumers WHERE endpoint_id = $1 AND consumer_id = $2")
        self.set_feed_position = (
            "INSERT INTO feed_consumers (endpoint_id, consumer_id, app_id, position, "
            "updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint_id, consumer_id) "
            "DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at")

        # -- API tokens ------------------------------------------------------------------
        self.insert_api_token = (
            "INSERT INTO api_tokens (id, token_hash, app_id, name, read_only, created_at) "
            f"{_values(6)}")
        self.find_api_token = (
            "SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL "
            "AND app_id IS NOT NULL")
        self.list_api_tokens = (
            "SELECT * FROM api_tokens WHERE app_id = $1 AND revoked_at IS NULL "
            "ORDER BY created_at, id")
        self.revoke_api_token = (
            "UPDATE api_tokens SET revoked_at = $3 WHERE app_id = $1 AND id = $2 "
            "AND revoked_at IS NULL RETURNING id")

        # -- messages --------------------------------------------------------------------
        self.insert_message = f"INSERT INTO messages ({MESSAGE_COLUMNS}) {_values(8)}"
        self.get_message = (
            "SELECT * FROM messages WHERE app_id = $1 AND (id = $2 OR event_id = $2) "
            "ORDER BY (id = $2) DESC LIMIT 1")
        self.messages_by_id = f"SELECT * FROM messages WHERE id {d.any_of('$1')}"
        # A claim's messages, with the configuration version of the same snapshot: the
        # endpoints the worker keeps are good while it has not moved.
        self.claimed_messages = (
            "SELECT m.*, (SELECT version FROM config_version WHERE id = 1) AS config_version "
            f"FROM messages m WHERE m.id {d.any_of('$1')}")
        # What a plain insert leaves out (Svix's tags and deliverAt, the publish's trace
        # context), set in the same write.
        self.set_message_extras = (
            "UPDATE messages SET tags = $2, deliver_at = $3, traceparent = $4 WHERE id = $1")
        self.hold_deliveries_until = (
            "UPDATE deliveries SET next_attempt_at = $2 WHERE message_id = $1 "
            "AND status = 'pending'")
        list_messages = (
            "SELECT * FROM messages WHERE app_id = $1 "
            f"AND ({cast('$2', 'text')} IS NULL OR id < $2) "
            f"AND ({cast('$3', 'text[]')} IS NULL OR event_type {d.any_of('$3')}) "
            f"AND ({cast('$4', 'float8')} IS NULL OR created_at < $4) "
            f"AND ({cast('$5', 'float8')} IS NULL OR created_at > $5) "
            f"AND ({cast('$6', 'text')} IS NULL OR channels LIKE '%\"' || $6 || '\"%') "
            f"AND ({cast('$8', 'text')} IS NULL OR {d.json_list_has('tags', '$8')}) "
            f"AND ({cast('$9', 'text')} IS NULL OR id > $9) "
            "ORDER BY id DESC LIMIT $7")
        self.list_messages = {False: list_messages, True: _reversed(list_messages)}
        # The key goes to the first message, or to a new one once the old claim expired ($5).
        self.claim_message_key = (
            "INSERT INTO idempotency_keys (app_id, key, message_id, created_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, key) DO UPDATE SET "
            "message_id = excluded.message_id, created_at = excluded.created_at "
            "WHERE idempotency_keys.created_at <= $5 RETURNING message_id")
        self.publish_fanout = d.publish_fanout()
        self.message_holding_key = (
            "SELECT m.* FROM idempotency_keys k JOIN messages m ON m.id = k.message_id "
            "WHERE k.app_id = $1 AND k.key = $2")

        # -- deliveries ------------------------------------------------------------------
        self.insert_delivery = (
            "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at, ordering_key) "
            "VALUES ($1, $2, $3, $4, 'pending', 0, $5, 'scheduled', $5, $6)")
        # The fair claim (docs/fairness.md): one statement where the dialect has one
        # (PostgreSQL's `hookline_claim`, migration 0026, which reads the same way); else these
        # steps in one transaction. Endpoints with due work that are neither skipped ($3) nor
        # paused, in random order, with what their room depends on ($4: the default cap; the
        # leases of workers other than $5, whose requests may still be going).
        self.claim_due_deliveries = d.claim_due
        self.claim_candidates = (
            "SELECT e.id, f.tokens, f.refilled_at, f.paused_until, "
            f"COALESCE({cast(d.json_field('e.options', 'max_concurrency'), 'int')}, $4) AS cap, "
            f"COALESCE({cast(d.json_field('e.options', 'rate_limit'), 'float8')}, "
            "a.rate_limit) AS rate, "
            "(SELECT COUNT(*) FROM deliveries l WHERE l.endpoint_id = e.id "
            "AND l.lease_id IS NOT NULL AND l.next_attempt_at > $1 "
            "AND l.lease_owner <> $5) AS leased "
            "FROM endpoints e JOIN applications a ON a.id = e.app_id "
            "LEFT JOIN endpoint_flow f ON f.endpoint_id = e.id "
            f"WHERE NOT e.disabled AND NOT (e.id {d.any_of('$3')}) "
            "AND (f.paused_until IS NULL OR f.paused_until <= $1) "
            f"AND ((SELECT MIN(d.next_attempt_at) FROM deliveries d {_first_lane('e.id')}) <= $1 "
            f"OR (SELECT MIN(d.next_attempt_at) FROM deliveries d {_other_lane('e.id')}) <= $1) "
            "ORDER BY random() LIMIT $2")
        # One endpoint's ($1) due deliveries of a lane, oldest first, at most $3. A delivery
        # with an ordering key waits while an earlier one for the same object and endpoint is
        # still pending (queued, retrying or in flight).
        self.claim_lanes = tuple(
            f"SELECT d.id FROM deliveries d {lane} AND d.next_attempt_at <= $2 "
            "AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o "
            "WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key "
            "AND o.status = 'pending' AND (o.created_at < d.created_at "
            "OR (o.created_at = d.created_at AND o.message_id < d.message_id)))) "
            "ORDER BY d.next_attempt_at LIMIT $3"
            for lane in (_first_lane("$1"), _other_lane("$1")))
        # Each with the id of the attempt it starts (JSON $6: delivery id -> attempt id), kept
        # in the delivery until its outcome is stored (migration 0028).
        self.lease_deliveries = (
            "UPDATE deliveries SET next_attempt_at = $2 + $3, lease_owner = $4, lease_id = $5, "
            "attempt_count = attempt_count + 1, attempt_id = (SELECT j.value FROM "
            f"{d.json_pairs('$6')} j WHERE j.key = deliveries.id) WHERE id {d.any_of('$1')} "
            "AND status = 'pending' AND next_attempt_at <= $2 "
            "RETURNING id, message_id, endpoint_id, attempt_count, trigger, attempt_id")
        # Before a claim of deliveries $1 at $2 (lease $3): the attempts they started and never
        # recorded (a dead worker's lease ran out, or a resend made one due again meanwhile),
        # stored as lost under their ids; a late result still overwrites one.
        self.record_lost_attempts = (
            f"INSERT INTO attempts AS a ({ATTEMPT_COLUMNS}) SELECT d.attempt_id, d.id, "
            "d.message_id, d.endpoint_id, d.app_id, e.url, CASE WHEN d.lease_id IS NOT NULL "
            "THEN d.next_attempt_at - $3 ELSE $2 END, FALSE, d.trigger, NULL, NULL, 0, "
            f"'worker_lost', '{LOST}', NULL, d.attempt_count, d.lease_owner, FALSE "
            "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
            f"WHERE d.id {d.any_of('$1')} AND d.attempt_id IS NOT NULL "
            "AND d.status = 'pending' AND d.next_attempt_at <= $2 "
            "ON CONFLICT (id) DO UPDATE SET sending = FALSE, error_kind = excluded.error_kind, "
            "error_detail = excluded.error_detail WHERE a.sending")
        # An endpoint's bucket after a claim took from it, and its probe in flight ($4).
        self.save_flow = (
            "INSERT INTO endpoint_flow AS f (endpoint_id, tokens, refilled_at, paused_until) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (endpoint_id) DO UPDATE SET "
            "tokens = excluded.tokens, refilled_at = excluded.refilled_at, "
            "paused_until = COALESCE(excluded.paused_until, f.paused_until)")
        # The circuit: paused until $2 for $3 seconds (why: $4); closed with NULLs.
        self.set_circuit = (
            "INSERT INTO endpoint_flow (endpoint_id, paused_until, pause_seconds, reason) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (endpoint_id) DO UPDATE SET "
            "paused_until = excluded.paused_until, pause_seconds = excluded.pause_seconds, "
            "reason = excluded.reason")
        self.get_circuit = (
            "SELECT paused_until, pause_seconds, reason FROM endpoint_flow WHERE endpoint_id = $1")
        # A probe handed back unsent: the endpoint may be probed again at once.
        self.end_probe = (
            "UPDATE endpoint_flow SET paused_until = $2 WHERE endpoint_id = $1 "
            "AND paused_until > $2")
        self.open_circuits = (
            "SELECT COUNT(*) AS n FROM endpoint_flow f JOIN endpoints e ON e.id = f.endpoint_id "
            "WHERE NOT e.disabled AND f.paused_until IS NOT NULL")
        self.record_results = d.record_results()
        self.record_delivery = (
            "UPDATE deliveries SET status = $2, attempt_count = $3, next_attempt_at = $4, "
            "last_attempt_at = $5, lease_owner = NULL, lease_id = NULL, attempt_id = NULL, "
            "trigger = 'scheduled' "
            f"WHERE id = $1 AND ({cast('$6', 'text')} IS NULL OR lease_id = $6 "
            "OR lease_id IS NULL)")
        self.release_delivery = (
            "UPDATE deliveries SET next_attempt_at = $2, lease_owner = NULL, lease_id = NULL, "
            "attempt_id = NULL, attempt_count = attempt_count - 1 "
            "WHERE id = $1 AND lease_id = $3 AND status = 'pending'")
        # Per enabled endpoint, the first entry of each lane's index: a join of deliveries
        # with endpoints was planned as a scan of the whole pending backlog.
        self.next_due_at = (
            "SELECT MIN(n.due) AS due FROM ("
            f"SELECT (SELECT MIN(d.next_attempt_at) FROM deliveries d {_first_lane('e.id')}) "
            "AS due FROM endpoints e WHERE NOT e.disabled UNION ALL "
            f"SELECT (SELECT MIN(d.next_attempt_at) FROM deliveries d {_other_lane('e.id')}) "
            "FROM endpoints e WHERE NOT e.disabled) n")
        self.requeue_delivery = (
            "INSERT INTO deliveries (id, message_id, endpoint_id, app_id, status, "
            "attempt_count, next_attempt_at, trigger, created_at) "
            "VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $5) "
            "ON CONFLICT (id) DO UPDATE SET status = 'pending', attempt_count = 0, "
            "next_attempt_at = $5, trigger = $6, lease_owner = NULL, lease_id = NULL")
        self.requeue_failed_since = (
            "UPDATE deliveries SET status = 'pending', attempt_count = 0, "
            "next_attempt_at = $4, trigger = 'manual' WHERE app_id = $1 AND "
            "endpoint_id = $2 AND status = 'failed' AND created_at >= $3 "
            f"AND ({cast('$5', 'float8')} IS NULL OR created_at <= $5) RETURNING id")
        self.delivery_counts = "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status"
        # Outcomes from the hourly rollups (migration 0014), hours $6..$7; what is still
        # pending from the index of pending deliveries: neither grows with history.
        self.endpoint_delivery_counts = (
            "SELECT 'success' AS state, SUM(succeeded) AS n FROM delivery_rollups "
            "WHERE endpoint_id = $2 AND app_id = $1 AND hour >= $6 AND hour <= $7 "
            "UNION ALL SELECT 'fail', SUM(failed) FROM delivery_rollups "
            "WHERE endpoint_id = $2 AND app_id = $1 AND hour >= $6 AND hour <= $7 "
            "UNION ALL SELECT CASE WHEN lease_id IS NOT NULL AND next_attempt_at > $5 "
            "THEN 'sending' ELSE 'pending' END, COUNT(*) FROM deliveries "
            "WHERE endpoint_id = $2 AND status = 'pending' AND app_id = $1 "
            "AND created_at >= $3 AND created_at <= $4 GROUP BY 1")

        # -- attempts --------------------------------------------------------------------
        self.insert_attempt = f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) {_values(18)}"
        # An attempt with its outcome; it overwrites the same attempt stored as lost (its
        # worker was slower than its lease) or as *sending* (by a version before 0028).
        self.record_attempt = (
            f"{self.insert_attempt} ON CONFLICT (id) DO UPDATE SET "
            "created_at = excluded.created_at, succeeded = excluded.succeeded, "
            "status_code = excluded.status_code, response_body = excluded.response_body, "
            "duration_ms = excluded.duration_ms, error_kind = excluded.error_kind, "
            "error_detail = excluded.error_detail, request_headers = excluded.request_headers, "
            "sending = FALSE")
        self.get_attempt = "SELECT * FROM attempts WHERE app_id = $1 AND id = $2"
        list_attempts = (
            "SELECT a.*, m.event_type FROM attempts a JOIN messages m ON m.id = a.message_id "
            f"WHERE a.app_id = $1 AND ({cast('$2', 'text')} IS NULL OR a.id < $2) "
            f"AND ({cast('$3', 'text')} IS NULL OR a.message_id = $3) "
            f"AND ({cast('$4', 'text')} IS NULL OR a.endpoint_id = $4) "
            f"AND ({cast('$5', 'boolean')} IS NULL OR a.succeeded = $5) "
            f"AND ({cast('$6', 'text[]')} IS NULL OR m.event_type {d.any_of('$6')}) "
            f"AND ({cast('$7', 'float8')} IS NULL OR a.created_at < $7) "
            f"AND ({cast('$8', 'float8')} IS NULL OR a.created_at > $8) "
            # Svix's status_code_class: 0 for no response, else the hundreds (200, 400...).
            f"AND ({cast('$10', 'int')} IS NULL OR COALESCE(a.status_code, 0) / 100 * 100 = $10) "
            f"AND ({cast('$11', 'text')} IS NULL OR m.channels LIKE '%\"' || $11 || '\"%') "
            f"AND ({cast('$12', 'text')} IS NULL OR {d.json_list_has('m.tags', '$12')}) "
            f"AND ({cast('$13', 'text')} IS NULL OR a.id > $13) "
            "ORDER BY a.id DESC LIMIT $9")
        self.list_attempts = {False: list_attempts, True: _reversed(list_attempts)}
        # The delivery log of one endpoint, one row per message: its latest attempt (no later
        # attempt of the same message to the same endpoint), filtered, newest first.
        self.list_latest_attempts = (
            "SELECT a.* FROM attempts a JOIN messages m ON m.id = a.message_id "
            "WHERE a.app_id = $1 AND a.endpoint_id = $2 "
            f"AND ({cast('$3', 'text')} IS NULL OR a.id < $3) "
            f"AND ({cast('$4', 'boolean')} IS NULL OR a.succeeded = $4) "
            f"AND ({cast('$5', 'text[]')} IS NULL OR m.event_type {d.any_of('$5')}) "
            f"AND ({cast('$6', 'float8')} IS NULL OR a.created_at < $6) "
            f"AND ({cast('$7', 'float8')} IS NULL OR a.created_at >= $7) "
            "AND NOT EXISTS (SELECT 1 FROM attempts later WHERE later.app_id = a.app_id "
            "AND later.message_id = a.message_id AND later.endpoint_id = a.endpoint_id "
            "AND later.id > a.id) "
            "ORDER BY a.id DESC LIMIT $8")
        self.attempts_of_messages = (
            "SELECT * FROM attempts WHERE app_id = $1 AND endpoint_id = $2 "
            f"AND message_id {d.any_of('$3')} ORDER BY id DESC")
        self.endpoint_hourly_counts = (
            "SELECT hour, succeeded AS ok, failed AS bad FROM attempt_rollups "
            "WHERE endpoint_id = $2 AND app_id = $1 AND hour >= $3 "
            "AND (succeeded <> 0 OR failed <> 0)")

        # -- retention and content expunge (store/history.py, docs/retention.md) ---------
        # Content is what erasure takes: a message's payload, its attempts' request headers
        # and response bodies. A message with a pending delivery keeps everything.
        no_pending = ("NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id "
                      "AND d.status = 'pending')")
        expunge = "UPDATE messages SET payload = '{}', expunged_at = $1 WHERE id IN "
        self.expire_content_by_age = (
            f"{expunge}(SELECT m.id FROM messages m WHERE m.expunged_at IS NULL "
            f"AND m.created_at < $2 AND {no_pending} ORDER BY m.created_at LIMIT $3) "
            "RETURNING id, app_id")
        self.expire_content_by_message = (
            f"{expunge}(SELECT m.id FROM messages m WHERE m.expunged_at IS NULL "
            "AND m.payload_expires_at IS NOT NULL AND m.payload_expires_at < $1 "
            f"AND {no_pending} ORDER BY m.payload_expires_at LIMIT $2) RETURNING id, app_id")
        attempt_content = ("UPDATE attempts SET response_body = NULL, request_headers = NULL, "
                           "expunged = TRUE WHERE ")
        self.expunge_attempts_of = (
            f"{attempt_content}app_id = $1 AND message_id {d.any_of('$2')} AND NOT expunged")
        self.expire_attempt_content = (
            f"{attempt_content}id IN (SELECT a.id FROM attempts a WHERE NOT a.expunged "
            "AND a.created_at < $1 AND NOT a.sending AND NOT EXISTS (SELECT 1 FROM "
            "deliveries d WHERE d.id = a.delivery_id AND d.status = 'pending') "
            "ORDER BY a.created_at LIMIT $2) RETURNING id")
        self.expired_messages = (
            "SELECT m.id, m.app_id FROM messages m WHERE m.created_at < $1 "
            f"AND {no_pending} ORDER BY m.created_at LIMIT $2")
        self.delete_history_of = (
            f"DELETE FROM attempts WHERE app_id = $1 AND message_id {d.any_of('$2')}",
            f"DELETE FROM deliveries WHERE message_id {d.any_of('$2')} AND app_id = $1 "
            "AND status <> 'pending'",
            f"DELETE FROM messages AS m WHERE m.id {d.any_of('$2')} AND m.app_id = $1 "
            f"AND {no_pending}")
        self.expire_idempotency_keys = (
            "DELETE FROM idempotency_keys WHERE (app_id, key) IN (SELECT app_id, key "
            "FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)")
        self.expire_rollups = tuple(f"DELETE FROM {table} WHERE hour < $1"
                                    for table in ROLLUP_TABLES)
        self.set_payload_expiry = (
            "UPDATE messages SET payload_expires_at = $3 WHERE app_id = $1 AND id = $2")
        self.expunge_message = (
            "UPDATE messages SET payload = '{}', expunged_at = COALESCE(expunged_at, $3) "
            "WHERE app_id = $1 AND (id = $2 OR event_id = $2) RETURNING id")
        self.expunge_attempt = (
            f"{attempt_content}app_id = $1 AND message_id = $2 AND id = $3 RETURNING id")
        self.expunge_app_batch = (
            f"{expunge}(SELECT id FROM messages WHERE app_id = $2 AND expunged_at IS NULL "
            "LIMIT $3) RETURNING id, app_id")
        self.expunge_app_attempts_batch = (
            f"{attempt_content}id IN (SELECT id FROM attempts WHERE app_id = $1 "
            "AND NOT expunged LIMIT $2) RETURNING id")

        # -- Svix's attempted-messages and attempted-destinations views -------------------
        # A delivery's state in Svix's words; $n is now (a lease still running: sending).
        def state(now: str) -> str:
            return ("CASE WHEN d.status = 'succeeded' THEN 'success' "
                    "WHEN d.status = 'failed' THEN 'fail' "
                    f"WHEN d.lease_id IS NOT NULL AND d.next_attempt_at > {now} THEN 'sending' "
                    "ELSE 'pending' END")

        # $1 app, $2 endpoint, $3 before this message id, $4 state, $5 channel, $6 tag,
        # $7 before, $8 after, $9 event types, $10 limit, $11 now.
        endpoint_messages = (
            f"SELECT * FROM (SELECT m.*, {state(cast('$11', 'float8'))} AS delivery_state, "
            "d.next_attempt_at AS delivery_next FROM deliveries d "
            "JOIN messages m ON m.id = d.message_id WHERE d.app_id = $1 AND d.endpoint_id = $2 "
            f"AND ({cast('$3', 'text')} IS NULL OR m.id < $3) "
            f"AND ({cast('$5', 'text')} IS NULL OR m.channels LIKE '%\"' || $5 || '\"%') "
            f"AND ({cast('$6', 'text')} IS NULL OR {d.json_list_has('m.tags', '$6')}) "
            f"AND ({cast('$7', 'float8')} IS NULL OR m.created_at < $7) "
            f"AND ({cast('$8', 'float8')} IS NULL OR m.created_at > $8) "
            f"AND ({cast('$9', 'text[]')} IS NULL OR m.event_type {d.any_of('$9')})) x "
            f"WHERE ({cast('$4', 'text')} IS NULL OR delivery_state = $4) "
            f"AND ({cast('$12', 'text')} IS NULL OR id > $12) "
            "ORDER BY id DESC LIMIT $10")
        self.endpoint_messages = {False: endpoint_messages,
                                  True: _reversed(endpoint_messages)}
        # $1 app, $2 message, $3 after this endpoint id, $4 limit, $5 now.
        message_endpoints = (
            f"SELECT e.*, {state(cast('$5', 'float8'))} AS delivery_state, "
            "d.next_attempt_at AS delivery_next FROM deliveries d "
            "JOIN endpoints e ON e.id = d.endpoint_id WHERE d.app_id = $1 AND d.message_id = $2 "
            f"AND ({cast('$3', 'text')} IS NULL OR e.id > $3) "
            f"AND ({cast('$6', 'text')} IS NULL OR e.id < $6) ORDER BY e.id LIMIT $4")
        self.message_endpoints = {True: message_endpoints,
                                  False: _reversed(message_endpoints)}
        # Usage statistics: deliveries ("message destinations") per application in a window.
        self.app_delivery_counts = (
            "SELECT app_id, COUNT(*) AS n FROM deliveries WHERE created_at >= $1 "
            f"AND created_at < $2 AND ({cast('$3', 'text[]')} IS NULL OR app_id {d.any_of('$3')}) "
            "GROUP BY app_id")
        self.endpoint_filters = (
            "SELECT app_id, filter_types FROM endpoints WHERE NOT disabled ORDER BY app_id")

        # -- background tasks ------------------------------------------------------------
        self.insert_task = (
            "INSERT INTO background_tasks (id, app_id, kind, status, data, created_at, "
            f"updated_at) {_values(7)}")
        self.update_task = (
            "UPDATE background_tasks SET status = $2, data = $3, updated_at = $4 WHERE id = $1")
        self.get_task = "SELECT * FROM background_tasks WHERE id = $1"
        # $2/$3: ids after/before (the page's bounds), $4 status, $5 kinds, $6 application.
        task_filter = (
            f"FROM background_tasks WHERE ({cast('$2', 'text')} IS NULL OR id > $2) "
            f"AND ({cast('$3', 'text')} IS NULL OR id < $3) "
            f"AND ({cast('$4', 'text')} IS NULL OR status = $4) "
            f"AND ({cast('$5', 'text[]')} IS NULL OR kind {d.any_of('$5')}) "
            f"AND ({cast('$6', 'text')} IS NULL OR app_id = $6)")
        self.list_tasks = {
            True: f"SELECT * {task_filter} ORDER BY id LIMIT $1",
            False: f"SELECT * {task_filter} ORDER BY id DESC LIMIT $1"}

        # -- idempotent requests ---------------------------------------------------------
        self.claim_request_key = (
            "INSERT INTO idempotent_requests (scope, key, request, created_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE SET "
            "request = excluded.request, status = NULL, body = NULL, "
            "created_at = excluded.created_at WHERE idempotent_requests.created_at <= $5 "
            "RETURNING key")
        self.request_holding_key = (
            "SELECT request, status, body FROM idempotent_requests WHERE scope = $1 AND key = $2")
        self.save_request_answer = (
            "UPDATE idempotent_requests SET status = $3, body = $4 WHERE scope = $1 AND key = $2")

        # -- portal access ---------------------------------------------------------------
        self.purge_expired = {table: f"DELETE FROM {table} WHERE expires_at < $1"
                              for table in PORTAL_TABLES}
        self.insert_portal_link = (
            "INSERT INTO portal_links (id, app_id, read_only, session_tag, created_at, "
            f"expires_at, feature_flags) {_values(7)}")
        self.use_portal_link = (
            "UPDATE portal_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL "
            "AND expires_at > $2 RETURNING *")
        self.end_portal_link = (
            "UPDATE portal_links SET expires_at = $2 WHERE id = $1 AND expires_at > $2",
            "UPDATE portal_sessions SET expires_at = $2 WHERE link_id = $1 AND expires_at > $2")
        self.insert_portal_session = (
            "INSERT INTO portal_sessions (id, app_id, admin_token_sha256, link_id, "
            f"read_only, session_tag, created_at, expires_at, feature_flags) {_values(9)}")
        self.find_portal_session = (
            "SELECT * FROM portal_sessions WHERE id = $1 AND expires_at > $2 "
            "AND (admin_token_sha256 IS NULL OR admin_token_sha256 = "
            "(SELECT value FROM meta WHERE key = $3))")
        self.end_portal_session = (
            "UPDATE portal_sessions SET expires_at = $2 WHERE id = $1 AND expires_at > $2")
        self.expire_portal_access = tuple(
            f"UPDATE {table} SET expires_at = $2 WHERE app_id = $1 AND expires_at > $2 "
            f"AND ({cast('$3', 'text[]')} IS NULL OR session_tag {d.any_of('$3')})"
            for table in PORTAL_TABLES)


    def endpoint_attempt_counts(self, windows: int) -> str:
        """(succeeded, failed) finished attempts from the hour of each of `windows` times
        ($4 on, as hour numbers; $3 is the earliest), test sends excluded, as columns ok0,
        bad0, ok1, ... From the hourly rollups: O(hours), whatever the history."""
        sums = ", ".join(
            f"SUM(CASE WHEN hour >= ${i + 4} THEN succeeded ELSE 0 END) AS ok{i}, "
            f"SUM(CASE WHEN hour >= ${i + 4} THEN failed ELSE 0 END) AS bad{i}"
            for i in range(windows))
        return (f"SELECT {sums} FROM attempt_rollups WHERE endpoint_id = $2 AND app_id = $1 "
                "AND hour >= $3")


@cache
def queries_for(dialect: Dialect) -> Queries:
    """The statements of `dialect`, composed once per dialect."""
    return Queries(dialect)
