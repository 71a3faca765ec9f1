-- Portal links and portal sessions, kept server-side so that a link opens one session only
-- and any session can be ended before its cookie expires. Independent of 0003.
CREATE TABLE portal_links (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    session_tag TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION
);
CREATE INDEX portal_links_app ON portal_links (app_id, expires_at);
CREATE INDEX portal_links_expiry ON portal_links (expires_at);
-- id is the SHA-256 of the cookie's session id. An administrator's session has no app_id
-- and records the hash of the admin token it was opened with: it lives while that token does.
CREATE TABLE portal_sessions (
    id TEXT PRIMARY KEY,
    app_id TEXT,
    admin_token_sha256 TEXT,
    link_id TEXT,
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    session_tag TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX portal_sessions_app ON portal_sessions (app_id, expires_at);
CREATE INDEX portal_sessions_link ON portal_sessions (link_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
