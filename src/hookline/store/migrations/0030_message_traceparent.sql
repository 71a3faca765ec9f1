-- Tracing (issue #14): the W3C trace context of a message's publish span, so the worker that
-- sends it, in whatever process, continues the publishing request's trace. NULL: not traced.
ALTER TABLE messages ADD COLUMN traceparent TEXT
