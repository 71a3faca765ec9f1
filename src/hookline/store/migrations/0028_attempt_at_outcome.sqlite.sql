-- An attempt is written once, with its outcome. Until now a claim inserted each attempt as
-- *sending* and its result updated it: two writes of a row with seven indexes and two rollup
-- triggers, per delivery. Now a claim stores the id of the attempt it starts in its delivery
-- (`deliveries.attempt_id`, beside the lease; set while an attempt's outcome is not stored),
-- and the result inserts the attempt whole. A claim that finds one set (a dead worker's lease
-- ran out, or a resend made the delivery due again) writes that attempt as *worker_lost*,
-- under its id, so a result that arrives after all (a worker
-- slower than its lease) still overwrites it, as before. Attempts stored as *sending* by an
-- older version are linked to their deliveries here, and the claim closes them the same way.
-- (On PostgreSQL, `hookline_claim` does it; here the claim's steps in store/deliveries.py.)
-- And the index of pending deliveries by endpoint goes: deliveries_endpoint (endpoint_id,
-- status, created_at) answers the same questions, and each index costs every claim and
-- every result a write.

ALTER TABLE deliveries ADD COLUMN attempt_id TEXT;
UPDATE deliveries SET attempt_id = (SELECT a.id FROM attempts a WHERE a.sending
    AND a.delivery_id = deliveries.id ORDER BY a.id DESC LIMIT 1)
WHERE id IN (SELECT delivery_id FROM attempts WHERE sending);
DROP INDEX IF EXISTS deliveries_pending_endpoint;
