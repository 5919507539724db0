-- The ledger checkpoint ordered by cuid ids (a profile's `order: cuid`, docs/profiles.md): a
-- cuid (v1) is 'c' + 8 base-36 digits of its creation time in milliseconds + 16 characters, so
-- the entries above a watermark W (epoch microseconds) are the ids at or above the prefix of the
-- millisecond W div 1000 + 1: a range of the platform's primary key (sge_recon/db/ledger_order.py).
-- W <= 0 (nothing checkpointed) is '', below every id. One expression (eight base-36 digits,
-- unrolled): callers evaluate it once per statement, as an uncorrelated subquery.
CREATE OR REPLACE FUNCTION recon.ledger_cuid_floor(watermark bigint)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN watermark <= 0 THEN '' ELSE 'c'
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 78364164096 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 2176782336 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 60466176 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1679616 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 46656 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1296 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 36 % 36)::integer + 1, 1)
        || substr('0123456789abcdefghijklmnopqrstuvwxyz', ((watermark / 1000 + 1) / 1 % 36)::integer + 1, 1)
    END
$$;
COMMENT ON FUNCTION recon.ledger_cuid_floor(bigint) IS
    'The smallest cuid id whose time lies above the watermark (epoch microseconds): the checkpoint''s range bound on a ledger ordered by cuid ids';
COMMENT ON COLUMN recon.ledger_checkpoint.ordered_by IS
    'What the watermark counts in: id (the contract ledger''s bigint sequence), created_at or cuid (a platform profile''s ledger: the entry''s time, or its cuid id''s time, as epoch microseconds); a change rebuilds the checkpoint';
