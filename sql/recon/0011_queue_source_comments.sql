-- Comments for the columns 0009 added, and the engines a stored result may come from now that
-- queue_depth and worker_status can be measured from BullMQ on Redis (DESIGN §11).
COMMENT ON COLUMN recon.check_results.reason IS
    'why the check is unavailable on this platform (its profile declares the data absent, or the queue source is not configured: set REDIS_URL); NULL otherwise';
COMMENT ON COLUMN recon.check_runs.profile IS
    'the platform profile the run read through: contract, sge, or a profile file''s name';
COMMENT ON COLUMN recon.check_results.engine IS
    'sql or gx (the check''s SQL), or bullmq (queue_depth / worker_status measured from BullMQ on Redis when the profile declares queues: {kind: bullmq})';
