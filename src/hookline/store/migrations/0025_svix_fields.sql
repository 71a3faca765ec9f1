-- Svix fields Hookline used to accept and ignore (issue #17): a message's tags and scheduled
-- delivery time, an event type's feature flags and the flags a portal link grants. An eventId
-- names one message of its application (a second one is a 409); NULLs do not collide.
ALTER TABLE messages ADD COLUMN tags TEXT;
ALTER TABLE messages ADD COLUMN deliver_at DOUBLE PRECISION;
DROP INDEX messages_event_id;
CREATE UNIQUE INDEX messages_event_id_unique ON messages (app_id, event_id);
ALTER TABLE event_types ADD COLUMN feature_flags TEXT;
ALTER TABLE portal_links ADD COLUMN feature_flags TEXT;
ALTER TABLE portal_sessions ADD COLUMN feature_flags TEXT
