-- Fair delivery (docs/fairness.md). Per endpoint, what every worker shares: its rate-limit
-- bucket and its circuit (paused until a time after 429/503 + Retry-After or a run of
-- timeouts; one probe after the pause). Kept apart from `endpoints`, whose changes move the
-- configuration version (migration 0012). Then the indexes a fair claim probes: per endpoint,
-- due first attempts and due retries/replays/probes apart (first attempts go first), and the
-- leases in flight (the global concurrency cap counts them).

CREATE TABLE endpoint_flow (
    endpoint_id TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION,
    refilled_at DOUBLE PRECISION,
    paused_until DOUBLE PRECISION,
    pause_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    reason TEXT
);
CREATE INDEX deliveries_first_due ON deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending' AND attempt_count = 0 AND trigger = 'scheduled';
CREATE INDEX deliveries_again_due ON deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending' AND (attempt_count > 0 OR trigger <> 'scheduled');
CREATE INDEX deliveries_leased ON deliveries (endpoint_id, next_attempt_at)
    WHERE lease_id IS NOT NULL;

