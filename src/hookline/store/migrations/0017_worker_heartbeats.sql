-- One row per running delivery worker, written every few seconds (HOOKLINE_HEARTBEAT_INTERVAL):
-- `heartbeat_at` says the process is alive, `loop_at` when its claim loop last went round, so
-- readiness and `hookline status` can tell a stalled worker from a live one.
CREATE TABLE worker_heartbeats (
    name TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    loop_at DOUBLE PRECISION NOT NULL,
    in_flight INTEGER NOT NULL DEFAULT 0
);
