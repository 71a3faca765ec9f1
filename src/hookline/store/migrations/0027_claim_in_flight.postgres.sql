-- The fair claim's global cap counts requests in flight, not results waiting to be stored.
-- Migration 0026 counted every lease, and a lease ends only when its result is recorded (in
-- batches, a few milliseconds to tens of them after the request ended), so an endpoint's
-- slots sat idle between its answers and their recording and a single worker delivered at
-- half its speed. Now an endpoint's leases held by *other* workers count as before (their
-- requests may still be going), and this worker's own count from `p_busy` (JSON: endpoint
-- id -> its requests in flight here), which it knows exactly. Its statements are planned on
-- every call (below). And its search for attempts a dead worker left *sending* reads the
-- index of attempts being sent: 0026's was planned as a scan of all attempts, so a claim's
-- time grew with the history (9.5 of 10 ms a claim beside a 1,000,000-delivery backlog).
-- Otherwise as in 0026.

DROP FUNCTION hookline_claim(DOUBLE PRECISION, INTEGER, DOUBLE PRECISION, TEXT, TEXT, TEXT[],
                             JSONB, INTEGER, INTEGER, TEXT[]);

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
    ), claimed AS (
        UPDATE deliveries d SET next_attempt_at = p_now + p_lease, lease_owner = p_owner,
            lease_id = p_lease_id, attempt_count = d.attempt_count + 1
        FROM picked WHERE d.id = picked.id AND d.status = 'pending' AND d.next_attempt_at <= p_now
        RETURNING d.id, d.message_id, d.endpoint_id, d.app_id, d.attempt_count, d.trigger
    ), numbered AS (
        SELECT c.*, p_attempt_ids[row_number() OVER (ORDER BY c.id)] AS attempt_id FROM claimed c
    ), lost AS (
        UPDATE attempts SET sending = FALSE, error_kind = 'worker_lost',
            error_detail = 'the worker stopped before recording an outcome; sent again'
        -- An array, not IN (SELECT ...): that was planned as a scan of every attempt.
        WHERE sending AND delivery_id = ANY (ARRAY(SELECT c.id FROM claimed c))
    ), opened AS (
        INSERT INTO attempts (id, delivery_id, message_id, endpoint_id, app_id, url, created_at,
            succeeded, sending, trigger, duration_ms, attempt_number, worker)
        SELECT n.attempt_id, n.id, n.message_id, n.endpoint_id, n.app_id, e.url, p_now, FALSE,
            TRUE, n.trigger, 0, n.attempt_count, p_owner
        FROM numbered n JOIN endpoints e ON e.id = n.endpoint_id
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
    SELECT n.id, n.message_id, n.endpoint_id, n.attempt_count, n.trigger, n.attempt_id, r.probe
    FROM numbered n JOIN room r ON r.endpoint_id = n.endpoint_id; -- the claims
END $$;
