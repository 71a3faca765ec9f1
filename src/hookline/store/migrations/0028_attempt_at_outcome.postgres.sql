-- An attempt is written once, with its outcome. Until now a claim inserted each attempt as
-- *sending* and its result updated it: two writes of a row with seven indexes and two rollup
-- triggers, per delivery. Now a claim stores the id of the attempt it starts in its delivery
-- (`deliveries.attempt_id`, beside the lease; set while an attempt's outcome is not stored),
-- and the result inserts the attempt whole. A claim that finds one set (a dead worker's lease
-- ran out, or a resend made the delivery due again) writes that attempt as *worker_lost*,
-- under its id, so a result that arrives after all (a worker
-- slower than its lease) still overwrites it, as before. Attempts stored as *sending* by an
-- older version are linked to their deliveries here, and the claim closes them the same way.
-- And the index of pending deliveries by endpoint goes: deliveries_endpoint (endpoint_id,
-- status, created_at) answers the same questions, and each index costs every claim and
-- every result a write.

ALTER TABLE deliveries ADD COLUMN attempt_id TEXT;
UPDATE deliveries SET attempt_id = (SELECT a.id FROM attempts a WHERE a.sending
    AND a.delivery_id = deliveries.id ORDER BY a.id DESC LIMIT 1)
WHERE id IN (SELECT delivery_id FROM attempts WHERE sending);
DROP INDEX IF EXISTS deliveries_pending_endpoint;

DROP FUNCTION hookline_claim(DOUBLE PRECISION, INTEGER, DOUBLE PRECISION, TEXT, TEXT, TEXT[],
                             JSONB, INTEGER, INTEGER, TEXT[], JSONB);

CREATE FUNCTION hookline_claim(p_now DOUBLE PRECISION, p_limit INTEGER,
                               p_lease DOUBLE PRECISION, p_owner TEXT, p_lease_id TEXT,
                               p_exclude TEXT[], p_room JSONB, p_default_room INTEGER,
                               p_default_cap INTEGER, p_attempt_ids TEXT[],
                               p_busy JSONB)
RETURNS TABLE (id TEXT, message_id TEXT, endpoint_id TEXT, attempt_count INTEGER,
               trigger TEXT, attempt_id TEXT, probe BOOLEAN)
LANGUAGE plpgsql VOLATILE
-- Planned on every call, with the parameters and the table's size of the moment: a plan
-- cached per connection (0026) is made on the connection's first claim, often on a nearly
-- empty queue, and kept; such a plan walked the whole due backlog once per leased row
-- (110 ms a claim at 24,000 due deliveries, against 3.5 ms planned afresh).
SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    v_endpoints TEXT[]; -- the endpoints this claim holds (the runner splits on ;+newline)
BEGIN
    SELECT array_agg(c.id) INTO v_endpoints FROM (
        SELECT e.id FROM endpoints e LEFT JOIN endpoint_flow f ON f.endpoint_id = e.id
        WHERE NOT e.disabled AND NOT (e.id = ANY (p_exclude))
        AND (f.paused_until IS NULL OR f.paused_until <= p_now)
        -- Scalar MINs, each one index probe: an EXISTS here may be planned as one scan of
        -- the whole due backlog.
        AND ((SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.endpoint_id = e.id
              AND d.status = 'pending' AND d.attempt_count = 0
              AND d.trigger = 'scheduled') <= p_now
             OR (SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.endpoint_id = e.id
                 AND d.status = 'pending'
                 AND (d.attempt_count > 0 OR d.trigger <> 'scheduled')) <= p_now)
        ORDER BY random() LIMIT p_limit) c
    WHERE pg_try_advisory_xact_lock(727301, hashtext(c.id)); -- held until this claim commits
    IF v_endpoints IS NULL THEN
        RETURN; -- nothing due
    END IF; -- else lease
    RETURN QUERY
    WITH room AS (
        SELECT e.id AS endpoint_id, f.paused_until IS NOT NULL AS probe, r.rate,
               CASE WHEN r.rate IS NULL THEN NULL
                    ELSE LEAST(p_limit, GREATEST(r.rate / 10.0, 1.0),
                               COALESCE(f.tokens + (p_now - f.refilled_at) * r.rate, p_limit))
               END AS tokens,
               LEAST(COALESCE((p_room ->> e.id)::INTEGER, p_default_room),
                     COALESCE((e.options::JSONB ->> 'max_concurrency')::INTEGER, p_default_cap)
                       - (SELECT COUNT(*) FROM deliveries l WHERE l.endpoint_id = e.id
                          AND l.lease_id IS NOT NULL AND l.next_attempt_at > p_now
                          AND l.lease_owner <> p_owner)::INTEGER
                       - COALESCE((p_busy ->> e.id)::INTEGER, 0),
                     CASE WHEN f.paused_until IS NOT NULL THEN 1 ELSE p_limit END,
                     CASE WHEN r.rate IS NULL THEN p_limit ELSE FLOOR(LEAST(
                         GREATEST(r.rate / 10.0, 1.0),
                         COALESCE(f.tokens + (p_now - f.refilled_at) * r.rate, p_limit))
                         + 1e-4)::INTEGER
                     END) AS n
        FROM endpoints e JOIN applications a ON a.id = e.app_id
        LEFT JOIN endpoint_flow f ON f.endpoint_id = e.id
        CROSS JOIN LATERAL (SELECT COALESCE((e.options::JSONB ->> 'rate_limit')::DOUBLE PRECISION,
                                            a.rate_limit::DOUBLE PRECISION) AS rate) r
        WHERE e.id = ANY (v_endpoints)
    ), picked AS (
        SELECT p.id, p.endpoint_id FROM room r CROSS JOIN LATERAL (
            SELECT q.id, q.endpoint_id, row_number() OVER () AS rn FROM (
                (SELECT d.id, d.endpoint_id FROM deliveries d WHERE d.endpoint_id = r.endpoint_id
                 AND d.status = 'pending' AND d.attempt_count = 0 AND d.trigger = 'scheduled'
                 AND d.next_attempt_at <= p_now
                 AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
                      WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key
                      AND o.status = 'pending' AND (o.created_at < d.created_at
                      OR (o.created_at = d.created_at AND o.message_id < d.message_id))))
                 ORDER BY d.next_attempt_at LIMIT r.n)
                UNION ALL
                (SELECT d.id, d.endpoint_id FROM deliveries d WHERE d.endpoint_id = r.endpoint_id
                 AND d.status = 'pending' AND (d.attempt_count > 0 OR d.trigger <> 'scheduled')
                 AND d.next_attempt_at <= p_now
                 AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
                      WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key
                      AND o.status = 'pending' AND (o.created_at < d.created_at
                      OR (o.created_at = d.created_at AND o.message_id < d.message_id))))
                 ORDER BY d.next_attempt_at LIMIT r.n)) q
            LIMIT r.n) p
        WHERE r.n > 0
        ORDER BY p.rn, random() LIMIT p_limit
    ), numbered AS (
        SELECT p.id, p_attempt_ids[row_number() OVER ()] AS attempt_id FROM picked p
    ), claimed AS (
        UPDATE deliveries d SET next_attempt_at = p_now + p_lease, lease_owner = p_owner,
            lease_id = p_lease_id, attempt_count = d.attempt_count + 1,
            attempt_id = n.attempt_id
        FROM numbered n WHERE d.id = n.id AND d.status = 'pending' AND d.next_attempt_at <= p_now
        RETURNING d.id, d.message_id, d.endpoint_id, d.attempt_count, d.trigger, d.attempt_id
    ), lost AS (
        -- `d` is the row as it was before this claim: an attempt started and never recorded
        -- (its lease ran out, or a resend made the delivery due again meanwhile).
        INSERT INTO attempts AS a (id, delivery_id, message_id, endpoint_id, app_id, url,
            created_at, succeeded, sending, trigger, duration_ms, attempt_number, worker,
            error_kind, error_detail)
        SELECT d.attempt_id, d.id, d.message_id, d.endpoint_id, d.app_id, e.url,
            CASE WHEN d.lease_id IS NOT NULL THEN d.next_attempt_at - p_lease ELSE p_now END,
            FALSE, FALSE, d.trigger, 0, d.attempt_count,
            d.lease_owner, 'worker_lost',
            'the worker stopped before recording an outcome; sent again'
        FROM claimed c JOIN deliveries d ON d.id = c.id JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.attempt_id IS NOT NULL
        ON CONFLICT (id) DO UPDATE SET sending = FALSE, error_kind = excluded.error_kind,
            error_detail = excluded.error_detail WHERE a.sending
    ), taken AS (
        SELECT c.endpoint_id, COUNT(*) AS n FROM claimed c GROUP BY c.endpoint_id
    ), flow AS (
        INSERT INTO endpoint_flow AS f (endpoint_id, tokens, refilled_at, paused_until)
        SELECT r.endpoint_id, CASE WHEN r.rate IS NULL THEN NULL ELSE r.tokens - t.n END, p_now,
            CASE WHEN r.probe THEN p_now + p_lease END
        FROM room r JOIN taken t ON t.endpoint_id = r.endpoint_id
        WHERE r.rate IS NOT NULL OR r.probe
        ON CONFLICT (endpoint_id) DO UPDATE SET tokens = excluded.tokens,
            refilled_at = excluded.refilled_at,
            paused_until = COALESCE(excluded.paused_until, f.paused_until)
    )
    SELECT c.id, c.message_id, c.endpoint_id, c.attempt_count, c.trigger, c.attempt_id, r.probe
    FROM claimed c JOIN room r ON r.endpoint_id = c.endpoint_id; -- the claims
END $$;
