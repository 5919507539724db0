-- Payout circuit breaker (issue 19): while a P0 ledger incident (ledger_imbalance, ledger_tamper)
-- is open for a program, the console refuses to execute that program's payout batches. An admin
-- override needs two different admin accounts: one requests it with a reason, another confirms;
-- a confirmed override lets ONE execution of that batch through.
CREATE TABLE IF NOT EXISTS recon.breaker_overrides (
    id             bigserial PRIMARY KEY,
    batch_id       text NOT NULL,
    program_id     text NOT NULL,
    incident_ids   bigint[] NOT NULL DEFAULT '{}',
    reason         text NOT NULL CHECK (length(btrim(reason)) > 0),
    requested_by   text NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_by   text NULL,
    confirmed_at   timestamptz NULL,
    used_at        timestamptz NULL,
    used_by        text NULL,
    CHECK (confirmed_by IS NULL OR confirmed_by <> requested_by)
);
CREATE INDEX IF NOT EXISTS breaker_overrides_batch_idx ON recon.breaker_overrides (batch_id);
COMMENT ON TABLE recon.breaker_overrides IS
    'Payout circuit breaker overrides: executing a payout batch while a P0 ledger incident is open for its program needs one admin to request (with a reason) and a different admin to confirm; used once';
COMMENT ON COLUMN recon.breaker_overrides.id IS 'Override number';
COMMENT ON COLUMN recon.breaker_overrides.batch_id IS 'The payout batch the override lets through once';
COMMENT ON COLUMN recon.breaker_overrides.program_id IS 'The batch''s program (whose ledger incident holds the breaker open)';
COMMENT ON COLUMN recon.breaker_overrides.incident_ids IS 'The open P0 ledger incidents the override was requested against';
COMMENT ON COLUMN recon.breaker_overrides.reason IS 'Why the payout must go out despite the ledger incident (mandatory)';
COMMENT ON COLUMN recon.breaker_overrides.requested_by IS 'Admin account that requested the override';
COMMENT ON COLUMN recon.breaker_overrides.requested_at IS 'When it was requested (UTC)';
COMMENT ON COLUMN recon.breaker_overrides.confirmed_by IS 'The second, different admin account that confirmed it; NULL until confirmed';
COMMENT ON COLUMN recon.breaker_overrides.confirmed_at IS 'When it was confirmed (UTC)';
COMMENT ON COLUMN recon.breaker_overrides.used_at IS 'When the one execution it allows was attempted; NULL while unused';
COMMENT ON COLUMN recon.breaker_overrides.used_by IS 'Admin account that executed the batch under the override';
