-- unbalanced_transaction: in program 2, the debit leg (commission_expense) of one PAID
-- commission's accrual is 0.10 too high, and the credit leg (revenue) of one REGISTER settlement
-- 0.10 too high: two journals that do not sum to zero, offsetting each other, so the program's
-- total is still zero. The liability legs are untouched (no commission_ledger finding).
CREATE TEMP TABLE sge_f_unbal ON COMMIT DROP AS
(SELECT 'COMMISSION'::text AS ref_type, e."refId" AS ref_id, e."id" AS entry_id, 0.10 AS delta
 FROM public."LedgerEntry" e
 JOIN public."Commission" c ON c."id" = e."refId" AND c."status" = 'PAID'
 JOIN sge_prog pr ON pr.id = e."programId" AND pr.program_no = 2
 WHERE e."refType" = 'COMMISSION' AND e."account" LIKE '%:commission_expense'
 ORDER BY e."refId" LIMIT 1)
UNION ALL
(SELECT 'SETTLEMENT', e."refId", e."id", -0.10
 FROM public."LedgerEntry" e
 JOIN public."Settlement" s ON s."id" = e."refId" AND s."type" = 'MINT'
 JOIN sge_prog pr ON pr.id = e."programId" AND pr.program_no = 2
 WHERE e."refType" = 'SETTLEMENT' AND e."account" LIKE '%:revenue'
 ORDER BY e."refId" LIMIT 1);

UPDATE public."LedgerEntry" e SET "amount" = e."amount" + f.delta
FROM sge_f_unbal f WHERE e."id" = f.entry_id;

INSERT INTO sge_expect (fault, ident)
SELECT 'unbalanced_transaction', to_jsonb(ref_type || ':' || ref_id) FROM sge_f_unbal;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'unbalanced_transaction', 'detail', jsonb_build_object('key', ref_type || ':' || ref_id,
       'difference', delta::numeric(18,6)::text)
FROM sge_f_unbal;
