CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    uid TEXT UNIQUE,
    name TEXT NOT NULL,
    metadata TEXT,
    rate_limit INTEGER,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    schema TEXT,
    example TEXT,
    deprecated BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    group_name TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    uid TEXT,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    filter_types TEXT,
    channels TEXT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at DOUBLE PRECISION,
    headers TEXT NOT NULL,
    metadata TEXT,
    options TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since DOUBLE PRECISION,
    last_attempt_at DOUBLE PRECISION,
    last_success_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_id TEXT,
    payload TEXT NOT NULL,
    channels TEXT,
    ordering_key TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX messages_app ON messages (app_id, id);
CREATE INDEX messages_event_id ON messages (app_id, event_id);
CREATE TABLE idempotency_keys (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION,
    trigger TEXT NOT NULL DEFAULT 'scheduled',
    ordering_key TEXT,
    lease_owner TEXT,
    lease_id TEXT,
    last_attempt_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, created_at);
CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_ordered ON deliveries (endpoint_id, ordering_key, created_at)
    WHERE ordering_key IS NOT NULL AND status = 'pending';
CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    succeeded BOOLEAN NOT NULL,
    sending BOOLEAN NOT NULL DEFAULT FALSE,
    trigger TEXT NOT NULL,
    status_code INTEGER,
    response_body TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    error_kind TEXT,
    error_detail TEXT,
    request_headers TEXT,
    attempt_number INTEGER NOT NULL DEFAULT 1,
    worker TEXT
);
CREATE INDEX attempts_message ON attempts (app_id, message_id, id);
CREATE INDEX attempts_endpoint ON attempts (app_id, endpoint_id, id);
CREATE INDEX attempts_app ON attempts (app_id, id);
CREATE INDEX attempts_sending ON attempts (delivery_id) WHERE sending;
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    app_id TEXT,
    name TEXT NOT NULL DEFAULT '',
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
