-- Svix fields Hookline used to accept and ignore (issue #17): a message's tags and scheduled
-- delivery time, an event type's feature flags and the flags a portal link grants. An eventId
-- names one message of its application (a second one is a 409); NULLs do not collide.
ALTER TABLE messages ADD COLUMN tags TEXT;
ALTER TABLE messages ADD COLUMN deliver_at DOUBLE PRECISION;
DROP INDEX messages_event_id;
-- A database from before this rule may hold several messages with one eventId: the first keeps
-- it (lookups by eventId find that one), the later ones keep their ids and lose the eventId.
UPDATE messages SET event_id = NULL WHERE event_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages first WHERE first.app_id = messages.app_id AND first.event_id = messages.event_id AND (first.created_at < messages.created_at OR (first.created_at = messages.created_at AND first.id < messages.id)));
CREATE UNIQUE INDEX messages_event_id_unique ON messages (app_id, event_id);
ALTER TABLE event_types ADD COLUMN feature_flags TEXT;
ALTER TABLE portal_links ADD COLUMN feature_flags TEXT;
ALTER TABLE portal_sessions ADD COLUMN feature_flags TEXT
