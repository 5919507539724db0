-- A checkpointed unbalanced transaction may differ by more than numeric(38,6) holds (two legs
-- near the ledger column's maximum): the sums are computed unbounded, so store them unbounded too
-- (the per-minute run would otherwise fall back to full scans on such a ledger).
ALTER TABLE recon.ledger_checkpoint_unbalanced ALTER COLUMN difference TYPE numeric;
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.difference IS
    'Debits minus credits of the transaction in this currency, exact and unbounded (numeric)';
