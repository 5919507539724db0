-- ledger_tamper's per-row hash of the contract columns, one to one with the row (audit finding
-- 4). Before, it hashed concat_ws('|', …, coalesce(intent_id, '-'), …): text moved across a '|'
-- between two columns ('affiliate:alice|bonus' / 'int_1' and 'bonus' / 'int_1|affiliate:alice')
-- or a NULL intent_id turned into '-' hashed the same, and the change went unseen.
--
-- Now: the record hash of the columns (each hashed by its type's own hash function; a NULL and
-- the column boundaries are part of it; timestamptz is hashed as its instant, so TimeZone and
-- DateStyle change nothing), mixed once more by hashint8extended. The mix matters because the
-- checkpoint SUMS the row hashes: a record hash is a linear combination of its columns' hashes,
-- so its sum over a program's rows depends only on each column's values, not on which row holds
-- them; swapping two entries' accounts would leave the sum unchanged. Mixed, it does not.
--
-- A checkpoint summed under the old body would now read as tampered everywhere: its definition
-- is recorded (recon.ledger_checkpoint.fingerprinted_by, 'contract:record' from this release),
-- and `db init`, which applies this migration, rebuilds it in the same transaction.
CREATE OR REPLACE FUNCTION recon.ledger_row_hash(id bigint, program_id text, transaction_id text,
                                                 intent_id text, account text, type text,
                                                 amount numeric, currency text,
                                                 created_at timestamptz)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(hash_record_extended(ROW(id, program_id, transaction_id, intent_id,
                                                     account, type, amount, currency,
                                                     created_at), 0), 0)
$$;
CREATE OR REPLACE FUNCTION recon.ledger_row_hash(id text, program_id text, transaction_id text,
                                                 intent_id text, account text, type text,
                                                 amount numeric, currency text,
                                                 created_at timestamptz)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT hashint8extended(hash_record_extended(ROW(id, program_id, transaction_id, intent_id,
                                                     account, type, amount, currency,
                                                     created_at), 0), 0)
$$;
COMMENT ON FUNCTION recon.ledger_row_hash(bigint, text, text, text, text, text, numeric, text,
                                          timestamptz) IS
    'ledger_tamper''s per-row hash of the contract columns (bigint ids): the record hash of the row (NULLs and column boundaries count), mixed so that sums over rows depend on which row holds which value';
COMMENT ON FUNCTION recon.ledger_row_hash(text, text, text, text, text, text, numeric, text,
                                          timestamptz) IS
    'ledger_tamper''s per-row hash of the contract columns (text ids): the record hash of the row (NULLs and column boundaries count), mixed so that sums over rows depend on which row holds which value';
COMMENT ON COLUMN recon.ledger_checkpoint.fingerprinted_by IS
    'What the fingerprints were summed over: contract:record (recon.ledger_row_hash of the contract columns, migration 0031; contract before it) or source:<digest> (a profile''s fingerprint of the platform''s own columns); a change rebuilds the checkpoint';
