-- Incremental reconciliation (issue 8): the ledger's totals checkpointed at an id watermark, so
-- that the per-minute ledger_balance / transaction_balance read only the entries added since.
--
-- Invariant: every ledger entry with id <= watermark is committed, will never be followed by
-- another committed entry with an id <= watermark, and is counted in ledger_checkpoint_totals
-- (and judged in ledger_checkpoint_unbalanced). The watermark only moves to a sequence value read
-- earlier (pending_watermark) once every transaction that was running when it was read has ended
-- (pending_vxids gone from pg_locks, every xid below pending_xmax finished): see
-- sge_recon/db/ledger_checkpoint.py. Rows of the past that change anyway are tampering, caught
-- by the daily ledger_tamper check.
CREATE TABLE IF NOT EXISTS recon.ledger_checkpoint (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark          bigint NOT NULL DEFAULT 0,
    entries            bigint NOT NULL DEFAULT 0,       -- entries counted up to the watermark
    advanced_at        timestamptz NULL,
    pending_watermark  bigint NULL,                     -- a sequence value read at pending_at
    pending_vxids      text[] NULL,                     -- transactions running at that moment
    pending_xmax       xid8 NULL,                       -- first xid not yet assigned then
    pending_at         timestamptz NULL,
    rebased_at         timestamptz NULL,                -- last time totals were rebuilt in full
    rebase_reason      text NULL
);

-- Per program and currency, the totals of the entries with id <= watermark.
CREATE TABLE IF NOT EXISTS recon.ledger_checkpoint_totals (
    program_id     text NOT NULL,
    currency       text NOT NULL,
    total_debits   numeric NOT NULL,
    total_credits  numeric NOT NULL,
    entries        bigint NOT NULL,
    -- order-independent sum of a hash of every counted row: changes to columns the totals do not
    -- see (account, transaction_id, created_at, ...) still show as tampering
    fingerprint    numeric NOT NULL,
    PRIMARY KEY (program_id, currency)
);

-- transaction_balance's failing rows over the entries with id <= watermark.
CREATE TABLE IF NOT EXISTS recon.ledger_checkpoint_unbalanced (
    transaction_id  text NOT NULL,
    program_id      text NOT NULL,
    currency        text NOT NULL,
    difference      numeric(38,6) NOT NULL,
    PRIMARY KEY (transaction_id, currency)
);

-- The per-row hash summed into fingerprint; one definition for the checkpoint and the tamper
-- check (inlined by the planner). The epoch keeps it independent of TimeZone and DateStyle.
CREATE OR REPLACE FUNCTION recon.ledger_row_hash(id bigint, program_id text, transaction_id text,
                                                 intent_id text, account text, type text,
                                                 amount numeric, currency text,
                                                 created_at timestamptz)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(concat_ws('|', id, program_id, transaction_id, coalesce(intent_id, '-'),
                                      account, type, amount, currency,
                                      extract(epoch FROM created_at)), 0)
$$;
