-- Background tasks (Svix's /background-task): long jobs the API answers for with 202 and a
-- task id, then reports on. `data` is JSON text; app_id is null for account-wide tasks.
CREATE TABLE background_tasks (
    id TEXT PRIMARY KEY,
    app_id TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
