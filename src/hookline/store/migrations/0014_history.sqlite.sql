-- History at scale (docs/retention.md). Hourly rollups of attempt outcomes (by the hour the
-- attempt started) and of delivery outcomes (by the hour the delivery was created), per
-- endpoint, kept by triggers so that statistics cost O(hours) whatever the history; test
-- sends never count. A row's contribution is counted in when it becomes countable and out
-- when it stops being so (a redelivered message, a late result), so the rollups always agree
-- with a full count of the rows. Deleting rows (retention, endpoint deletion) leaves them: the
-- purge ages rollup hours out by the same clock. Then the columns and indexes retention needs.

CREATE TABLE attempt_rollups (
    endpoint_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, hour)
);
CREATE INDEX attempt_rollups_app ON attempt_rollups (app_id, hour);
CREATE TABLE delivery_rollups (
    endpoint_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, hour)
);
CREATE INDEX delivery_rollups_app ON delivery_rollups (app_id, hour);
INSERT INTO attempt_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, CAST(created_at / 3600 AS INTEGER), MIN(app_id), SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END) FROM attempts WHERE NOT sending AND trigger <> 'test' GROUP BY 1, 2;
INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, CAST(created_at / 3600 AS INTEGER), MIN(app_id), SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) FROM deliveries WHERE status IN ('succeeded', 'failed') GROUP BY 1, 2;
CREATE TRIGGER attempts_rollup_insert AFTER INSERT ON attempts WHEN NOT NEW.sending AND NEW.trigger <> 'test' BEGIN INSERT INTO attempt_rollups (endpoint_id, hour, app_id, succeeded, failed) VALUES (NEW.endpoint_id, CAST(NEW.created_at / 3600 AS INTEGER), NEW.app_id, CASE WHEN NEW.succeeded THEN 1 ELSE 0 END, CASE WHEN NEW.succeeded THEN 0 ELSE 1 END) ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; END;
CREATE TRIGGER attempts_rollup_update AFTER UPDATE OF sending, succeeded, created_at, trigger ON attempts WHEN (NOT OLD.sending AND OLD.trigger <> 'test') OR (NOT NEW.sending AND NEW.trigger <> 'test') BEGIN INSERT INTO attempt_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT OLD.endpoint_id, CAST(OLD.created_at / 3600 AS INTEGER), OLD.app_id, CASE WHEN OLD.succeeded THEN -1 ELSE 0 END, CASE WHEN OLD.succeeded THEN 0 ELSE -1 END WHERE NOT OLD.sending AND OLD.trigger <> 'test' ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; INSERT INTO attempt_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT NEW.endpoint_id, CAST(NEW.created_at / 3600 AS INTEGER), NEW.app_id, CASE WHEN NEW.succeeded THEN 1 ELSE 0 END, CASE WHEN NEW.succeeded THEN 0 ELSE 1 END WHERE NOT NEW.sending AND NEW.trigger <> 'test' ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; END;
CREATE TRIGGER deliveries_rollup_insert AFTER INSERT ON deliveries WHEN NEW.status IN ('succeeded', 'failed') BEGIN INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) VALUES (NEW.endpoint_id, CAST(NEW.created_at / 3600 AS INTEGER), NEW.app_id, NEW.status = 'succeeded', NEW.status = 'failed') ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; END;
CREATE TRIGGER deliveries_rollup_update AFTER UPDATE OF status ON deliveries WHEN OLD.status IS NOT NEW.status AND (OLD.status IN ('succeeded', 'failed') OR NEW.status IN ('succeeded', 'failed')) BEGIN INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT OLD.endpoint_id, CAST(OLD.created_at / 3600 AS INTEGER), OLD.app_id, -(OLD.status = 'succeeded'), -(OLD.status = 'failed') WHERE OLD.status IN ('succeeded', 'failed') ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT NEW.endpoint_id, CAST(NEW.created_at / 3600 AS INTEGER), NEW.app_id, NEW.status = 'succeeded', NEW.status = 'failed' WHERE NEW.status IN ('succeeded', 'failed') ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed; END;

-- Pending deliveries by endpoint and age: what the statistics count live, and what retention
-- must never purge. The index holds only pending rows, so it does not grow with history.
CREATE INDEX deliveries_pending_endpoint ON deliveries (endpoint_id, created_at) WHERE status = 'pending';

-- Retention: per-message payload lives (Svix's payloadRetentionPeriod/Hours), what was
-- expunged, and indexes that hold only what a purge still has to visit.
ALTER TABLE messages ADD COLUMN payload_expires_at DOUBLE PRECISION;
ALTER TABLE messages ADD COLUMN expunged_at DOUBLE PRECISION;
ALTER TABLE attempts ADD COLUMN expunged BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_content ON messages (created_at) WHERE expunged_at IS NULL;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload_expires_at IS NOT NULL AND expunged_at IS NULL;
CREATE INDEX attempts_content ON attempts (created_at) WHERE NOT expunged
;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)
