-- Every audit export (DESIGN §8): which month, from which snapshot, where it was written, and the
-- sha256 of its manifest, so that an auditor handed a folder can compare it with what we recorded.
CREATE TABLE IF NOT EXISTS recon.export_runs (
    id               bigserial PRIMARY KEY,
    period           text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    trigger          text NOT NULL DEFAULT 'cli',      -- cli | scheduler | console | bench
    directory        text NULL,
    snapshot         text NULL,
    total_rows       bigint NULL,
    total_bytes      bigint NULL,
    manifest_sha256  text NULL,
    replaced         text NULL,                        -- where --force moved the earlier version
    error            text NULL
);
CREATE INDEX IF NOT EXISTS export_runs_period_idx ON recon.export_runs (period, finished_at DESC);
