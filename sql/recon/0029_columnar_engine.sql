-- The columnar engine (`sge-recon check --engine duckdb`, issue 18): a run may be recorded with
-- engine duckdb; each result says which engine produced it (duckdb, or sql for the checks the
-- columnar sweep does not serve or hands back to PostgreSQL).
ALTER TABLE recon.check_runs DROP CONSTRAINT IF EXISTS check_runs_engine_check;
ALTER TABLE recon.check_runs ADD CONSTRAINT check_runs_engine_check
    CHECK (engine IN ('sql', 'gx', 'duckdb'));
COMMENT ON COLUMN recon.check_runs.engine IS
    'sql (plain SELECTs), gx (Great Expectations) or duckdb (the ledger checks over the audit exports'' Parquet plus the live tail; the other checks on PostgreSQL)';
COMMENT ON COLUMN recon.check_results.engine IS
    'sql or gx (the check''s SQL), duckdb (the columnar sweep over the exports'' Parquet plus the live tail; details.columnar says what it read), or bullmq (queue_depth / worker_status measured from BullMQ on Redis when the profile declares queues: {kind: bullmq})';
