-- The claim reads its indexes with plain index scans, never bitmap scans. A high-volume queue
-- leaves dead index entries behind every claim and every result (a claimed delivery leaves
-- deliveries_first_due, a recorded one deliveries_leased) until VACUUM removes them. A plain
-- index scan that meets one checks its row once and marks the entry dead in the index
-- (LP_DEAD), so the next claim passes over it; a bitmap scan marks nothing and visits every
-- such row's page again on every claim. The planner picked a bitmap scan for the count of
-- other workers' leases (it expects a few dozen rows), so a claim's time grew with the
-- deliveries made since the last VACUUM: 2.1 -> 7.0 ms a claim of 15 over 36,000 deliveries
-- claimed and recorded, and 4 -> 24 ms in 20 s of an open loop at 500 messages/s, against
-- 1.9 ms throughout with plain index scans.
ALTER FUNCTION hookline_claim(DOUBLE PRECISION, INTEGER, DOUBLE PRECISION, TEXT, TEXT, TEXT[],
                              JSONB, INTEGER, INTEGER, TEXT[], JSONB)
    SET enable_bitmapscan = off
