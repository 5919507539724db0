-- unbalanced_transaction: in program 2, the debit leg (commission_expense) of one PAID
-- commission's accrual is 0.10 too high, and the credit leg (revenue) of one REGISTER settlement
-- 0.10 too high: two journals that do not sum to zero, offsetting each other, so the program's
-- total is still zero. The liability legs are untouched (no commission_ledger finding).
-- (targets chosen on the small tables first, their legs then found through the refType/refId index)
CREATE TEMP TABLE sge_f_unbal ON COMMIT DROP AS
WITH prog AS (SELECT id FROM sge_prog WHERE program_no = 2),
commission AS (
    SELECT c."id" FROM public."Commission" c JOIN prog ON prog.id = c."programId"
    WHERE c."status" = 'PAID' ORDER BY c."id" LIMIT 1
), settlement AS (
    SELECT s."id" FROM public."Settlement" s JOIN prog ON prog.id = s."programId"
    WHERE s."type" = 'MINT' ORDER BY s."id" LIMIT 1
)
SELECT 'COMMISSION'::text AS ref_type, e."refId" AS ref_id, e."id" AS entry_id, 0.10 AS delta
FROM commission x JOIN public."LedgerEntry" e
  ON e."refType" = 'COMMISSION' AND e."refId" = x."id" AND e."account" LIKE '%:commission_expense'
UNION ALL
SELECT 'SETTLEMENT', e."refId", e."id", -0.10
FROM settlement x JOIN public."LedgerEntry" e
  ON e."refType" = 'SETTLEMENT' AND e."refId" = x."id" AND e."account" LIKE '%:revenue';

UPDATE public."LedgerEntry" e SET "amount" = e."amount" + f.delta
FROM sge_f_unbal f WHERE e."id" = f.entry_id;

INSERT INTO sge_expect (fault, ident)
SELECT 'unbalanced_transaction', to_jsonb(ref_type || ':' || ref_id) FROM sge_f_unbal;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'unbalanced_transaction', 'detail', jsonb_build_object('key', ref_type || ':' || ref_id,
       'difference', delta::numeric(18,6)::text)
FROM sge_f_unbal;
