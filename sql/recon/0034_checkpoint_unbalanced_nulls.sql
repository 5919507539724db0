-- transaction_balance takes a NULL transaction_id, program or currency as a value of its own (the
-- entries without a transaction_id are one transaction, as GROUP BY groups them; a NULL currency
-- is distinct from ''): the checkpoint keeps its failing rows as they are, NULLs included (they
-- occur on platform profiles and where the contract's NOT NULL constraints are dropped; before,
-- such a row failed the watermark's move). A primary key cannot hold NULLs: a plain index on the
-- same columns serves the lookups by transaction (rows are only inserted, never upserted).
ALTER TABLE recon.ledger_checkpoint_unbalanced
    DROP CONSTRAINT IF EXISTS ledger_checkpoint_unbalanced_pkey;
ALTER TABLE recon.ledger_checkpoint_unbalanced ALTER COLUMN transaction_id DROP NOT NULL,
                                                ALTER COLUMN program_id DROP NOT NULL,
                                                ALTER COLUMN currency DROP NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_checkpoint_unbalanced_transaction_idx
    ON recon.ledger_checkpoint_unbalanced (transaction_id, currency);
COMMENT ON INDEX recon.ledger_checkpoint_unbalanced_transaction_idx IS
    'The failing rows of a transaction (formerly the primary key, which cannot hold NULLs)';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.transaction_id IS
    'Transaction; NULL for the entries without a transaction_id (one transaction)';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.program_id IS
    'Program (the least of the transaction''s, in this currency if it mixes currencies); NULL if none has one';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.currency IS
    'Currency; NULL for the entries without one (a currency of its own, distinct from '''')';
