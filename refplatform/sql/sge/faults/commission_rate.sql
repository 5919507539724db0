-- commission_rate: one unbatched DIRECT commission (program 0's first, else another program's)
-- computed at the program's "directCommissionPct" + 2.50 (a stale rate). Its amount and its
-- accrual journal follow that wrong rate, so only the rate is wrong (no amount or ledger finding).
CREATE TEMP TABLE sge_f_rate ON COMMIT DROP AS
SELECT c."id", c."rate" AS old_rate, (c."rate" + 2.50)::numeric(5,2) AS new_rate,
       round(c."baseAmount" * (c."rate" + 2.50) / 100, 2)::numeric(18,6) AS new_amount
FROM public."Commission" c JOIN sge_prog pr ON pr.id = c."programId"
WHERE c."commissionType" = 'DIRECT' AND c."payoutId" IS NULL AND c."status" <> 'PAID'
  AND c."rate" = pr.direct_pct AND c."amount" = round(c."baseAmount" * c."rate" / 100, 2)
ORDER BY pr.program_no = 0 DESC, c."status" = 'ACCRUED' DESC, c."id"
LIMIT 1;

UPDATE public."Commission" c SET "rate" = f.new_rate, "amount" = f.new_amount
FROM sge_f_rate f WHERE c."id" = f."id";
UPDATE public."LedgerEntry" e SET "amount" = sign(e."amount") * f.new_amount
FROM sge_f_rate f WHERE e."refType" = 'COMMISSION' AND e."refId" = f."id";

INSERT INTO sge_expect (fault, ident) SELECT 'commission_rate', to_jsonb("id") FROM sge_f_rate;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'commission_rate', 'detail', jsonb_build_object('commissionId', "id", 'problem', 'rate',
       'expected', old_rate::text, 'actual', new_rate::text)
FROM sge_f_rate;
