-- What the checkpoint's fingerprints (recon.ledger_checkpoint_totals.fingerprint) were summed
-- over: 'contract' (recon.ledger_row_hash of the contract columns) or 'source:<digest>' (a
-- profile's `fingerprint:`, the platform's own columns hashed in its ledger view; docs/
-- profiles.md). ledger_tamper compares sums of one definition only: a checkpoint built under
-- another is rebuilt, as one built under another ledger order is (ordered_by).
ALTER TABLE recon.ledger_checkpoint
    ADD COLUMN IF NOT EXISTS fingerprinted_by text NOT NULL DEFAULT 'contract';
COMMENT ON COLUMN recon.ledger_checkpoint.fingerprinted_by IS
    'What the fingerprints were summed over: contract (the contract columns) or source:<digest> (a profile''s fingerprint of the platform''s own columns); a change rebuilds the checkpoint';
