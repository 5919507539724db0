-- commission_ledger_drift: the accrual of one DIRECT commission (program 1's first unbatched one,
-- else another program's, never one another fault changed) posted twice
-- (a retried job): a second balanced pair under the same (COMMISSION, refId), so the affiliate's
-- liability credits exceed its commissions by that amount; every journal still balances.
CREATE TEMP TABLE sge_f_drift ON COMMIT DROP AS
SELECT c."id", c."affiliateId", c."programId", c."amount", c."commissionType", c."settlementId",
       (c."createdAt" + interval '1 second')::timestamp(3) AS at
FROM public."Commission" c JOIN sge_prog pr ON pr.id = c."programId"
WHERE c."commissionType" = 'DIRECT' AND c."rate" = pr.direct_pct
  AND c."amount" = round(c."baseAmount" * c."rate" / 100, 2)
ORDER BY pr.program_no = 1 DESC, c."payoutId" IS NULL DESC, c."status" = 'ACCRUED' DESC, c."id"
LIMIT 1;

INSERT INTO public."LedgerEntry" ("id", "programId", "account", "counterparty", "amount",
    "currency", "refType", "refId", "settlementId", "description", "createdAt")
SELECT pg_temp.sge_cuid(f.at, 4000000 + l.leg, 56, sp.seed), f."programId", l.account,
       l.counterparty, l.amount, 'USD', 'COMMISSION', f."id", NULL,
       l.side || f."commissionType" || ' commission on settlement ' || f."settlementId", f.at
FROM sge_f_drift f
CROSS JOIN sge_params sp
CROSS JOIN LATERAL (VALUES
    (0, 'program:' || f."programId" || ':commission_expense', 'affiliate:' || f."affiliateId" || ':liability',
        f."amount", 'DEBIT: '),
    (1, 'affiliate:' || f."affiliateId" || ':liability', 'program:' || f."programId" || ':commission_expense',
        -f."amount", 'CREDIT: ')
) l(leg, account, counterparty, amount, side);

INSERT INTO sge_expect (fault, ident) SELECT 'commission_ledger_drift', to_jsonb("affiliateId") FROM sge_f_drift;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'commission_ledger_drift', 'detail', jsonb_build_object('affiliateId', "affiliateId",
       'commissionId', "id", 'extra_credit', "amount"::text)
FROM sge_f_drift;
