-- Self-healing endpoints and pull feeds (docs/recovery.md). Who disabled an endpoint ('rule':
-- its failure rule, so it is probed; 'manual': a person, never probed), since when it has
-- missed messages, when it is probed next and how many probes failed. None of these moves
-- the configuration version (migration 0012): `disabled`, which changes with them, does.
ALTER TABLE endpoints ADD COLUMN disabled_by TEXT;
ALTER TABLE endpoints ADD COLUMN missed_since DOUBLE PRECISION;
ALTER TABLE endpoints ADD COLUMN next_probe_at DOUBLE PRECISION;
ALTER TABLE endpoints ADD COLUMN probes_made INTEGER NOT NULL DEFAULT 0;
CREATE INDEX endpoints_probed ON endpoints (next_probe_at) WHERE disabled_by = 'rule';
ALTER TABLE applications ADD COLUMN auto_recover BOOLEAN NOT NULL DEFAULT TRUE;
-- A pull feed's consumer: the id of the last message it asked past (the feed resumes after it).
CREATE TABLE feed_consumers (
    endpoint_id TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    position TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (endpoint_id, consumer_id)
);
CREATE INDEX feed_consumers_app ON feed_consumers (app_id);
