-- History at scale (docs/retention.md). Hourly rollups of attempt outcomes (by the hour the
-- attempt started) and of delivery outcomes (by the hour the delivery was created), per
-- endpoint, kept by statement-level triggers (one upsert per endpoint and hour a statement
-- touched; deliveries are always inserted pending, so only their updates count), so that
-- statistics cost O(hours) whatever the history; test
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
INSERT INTO attempt_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, MIN(app_id), COUNT(*) FILTER (WHERE succeeded), COUNT(*) FILTER (WHERE NOT succeeded) FROM attempts WHERE NOT sending AND trigger <> 'test' GROUP BY 1, 2;
INSERT INTO delivery_rollups (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, MIN(app_id), COUNT(*) FILTER (WHERE status = 'succeeded'), COUNT(*) FILTER (WHERE status = 'failed') FROM deliveries WHERE status IN ('succeeded', 'failed') GROUP BY 1, 2;
CREATE FUNCTION hookline_attempt_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO attempt_rollups AS r (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, MIN(app_id), COUNT(*) FILTER (WHERE succeeded), COUNT(*) FILTER (WHERE NOT succeeded) FROM new_rows WHERE NOT sending AND trigger <> 'test' GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = r.succeeded + excluded.succeeded, failed = r.failed + excluded.failed; ELSE INSERT INTO attempt_rollups AS r (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, hour, MIN(app_id), SUM(ok), SUM(bad) FROM (SELECT endpoint_id, FLOOR(created_at / 3600)::bigint AS hour, app_id, CASE WHEN succeeded THEN 1 ELSE 0 END AS ok, CASE WHEN succeeded THEN 0 ELSE 1 END AS bad FROM new_rows WHERE NOT sending AND trigger <> 'test' UNION ALL SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, app_id, CASE WHEN succeeded THEN -1 ELSE 0 END, CASE WHEN succeeded THEN 0 ELSE -1 END FROM old_rows WHERE NOT sending AND trigger <> 'test') AS c GROUP BY 1, 2 HAVING SUM(ok) <> 0 OR SUM(bad) <> 0 ORDER BY 1, 2 ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = r.succeeded + excluded.succeeded, failed = r.failed + excluded.failed; END IF; RETURN NULL; END $$;
CREATE TRIGGER attempts_rollup_insert AFTER INSERT ON attempts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hookline_attempt_rollup();
CREATE TRIGGER attempts_rollup_update AFTER UPDATE ON attempts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hookline_attempt_rollup();
CREATE FUNCTION hookline_delivery_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO delivery_rollups AS r (endpoint_id, hour, app_id, succeeded, failed) SELECT endpoint_id, hour, MIN(app_id), SUM(ok), SUM(bad) FROM (SELECT endpoint_id, FLOOR(created_at / 3600)::bigint AS hour, app_id, CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END AS ok, CASE WHEN status = 'failed' THEN 1 ELSE 0 END AS bad FROM new_rows WHERE status IN ('succeeded', 'failed') UNION ALL SELECT endpoint_id, FLOOR(created_at / 3600)::bigint, app_id, CASE WHEN status = 'succeeded' THEN -1 ELSE 0 END, CASE WHEN status = 'failed' THEN -1 ELSE 0 END FROM old_rows WHERE status IN ('succeeded', 'failed')) AS c GROUP BY 1, 2 HAVING SUM(ok) <> 0 OR SUM(bad) <> 0 ORDER BY 1, 2 ON CONFLICT (endpoint_id, hour) DO UPDATE SET succeeded = r.succeeded + excluded.succeeded, failed = r.failed + excluded.failed; RETURN NULL; END $$;
CREATE TRIGGER deliveries_rollup_update AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hookline_delivery_rollup();

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
