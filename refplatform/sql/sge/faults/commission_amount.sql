-- commission_amount: one unbatched DIRECT commission 0.37 too high and one unbatched OVERRIDE
-- commission 0.11 too high (rates right; program 2's first, else another program's). Their
-- accrual journals carry the wrong amounts too, so the ledger agrees with the commission rows:
-- only the amount check sees it.
CREATE TEMP TABLE sge_f_amount ON COMMIT DROP AS
SELECT x."id", x."amount" AS old_amount, (x."amount" + x.delta)::numeric(18,6) AS new_amount
FROM (
    (SELECT c."id", c."amount", 0.37 AS delta
     FROM public."Commission" c JOIN sge_prog pr ON pr.id = c."programId"
     WHERE c."commissionType" = 'DIRECT' AND c."payoutId" IS NULL AND c."status" <> 'PAID'
       AND c."rate" = pr.direct_pct
       AND c."amount" = round(c."baseAmount" * c."rate" / 100, 2)
     ORDER BY pr.program_no = 2 DESC, c."status" = 'ACCRUED' DESC, c."id" LIMIT 1)
    UNION ALL
    (SELECT c."id", c."amount", 0.11
     FROM public."Commission" c JOIN sge_prog pr ON pr.id = c."programId"
     WHERE c."commissionType" = 'OVERRIDE' AND c."payoutId" IS NULL AND c."status" <> 'PAID'
       AND c."rate" = pr.override_pct
       AND c."amount" = round(c."baseAmount" * c."rate" / 100, 2)
     ORDER BY pr.program_no = 2 DESC, c."status" = 'ACCRUED' DESC, c."id" LIMIT 1)
) x;

UPDATE public."Commission" c SET "amount" = f.new_amount
FROM sge_f_amount f WHERE c."id" = f."id";
UPDATE public."LedgerEntry" e SET "amount" = sign(e."amount") * f.new_amount
FROM sge_f_amount f WHERE e."refType" = 'COMMISSION' AND e."refId" = f."id";

INSERT INTO sge_expect (fault, ident) SELECT 'commission_amount', to_jsonb("id") FROM sge_f_amount;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'commission_amount', 'detail', jsonb_build_object('commissionId', "id", 'problem', 'amount',
       'expected', old_amount::text, 'actual', new_amount::text)
FROM sge_f_amount;
