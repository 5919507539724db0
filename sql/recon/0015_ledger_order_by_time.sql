-- The ledger checkpoint under a platform profile (DESIGN §11): the platform's ledger ids are its
-- own (SGE: text cuids), so the checkpoint orders entries by their time (the watermark holds
-- epoch microseconds; sge_recon/db/ledger_checkpoint.py) and fingerprints rows with text ids.
-- Same body as the bigint form: concat_ws renders a bigint id and its text alike, so a row's
-- hash does not depend on which form computed it.
CREATE OR REPLACE FUNCTION recon.ledger_row_hash(id text, program_id text, transaction_id text,
                                                 intent_id text, account text, type text,
                                                 amount numeric, currency text,
                                                 created_at timestamptz)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(concat_ws('|', id, program_id, transaction_id, coalesce(intent_id, '-'),
                                      account, type, amount, currency,
                                      extract(epoch FROM created_at)), 0)
$$;
-- What the watermark counts in: 'id' (the contract's sequence) or 'created_at' (a profile's).
-- A checkpoint built under one order is rebuilt, never reused, under the other.
ALTER TABLE recon.ledger_checkpoint ADD COLUMN IF NOT EXISTS ordered_by text NOT NULL DEFAULT 'id';
COMMENT ON COLUMN recon.ledger_checkpoint.ordered_by IS
    'What the watermark counts in: id (the contract ledger''s bigint sequence) or created_at (a platform profile''s ledger, epoch microseconds); a change rebuilds the checkpoint';
