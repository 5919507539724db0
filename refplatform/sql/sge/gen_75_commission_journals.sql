-- The "Commission" rows (statuses and "payoutId" as gen_70 settled them), their accrual journals
-- and the journals of the line items paid out.
INSERT INTO public."Commission" ("id", "programId", "settlementId", "affiliateId",
    "overrideAffiliateId", "commissionType", "rate", "baseAmount", "amount", "currency", "status",
    "payoutId", "createdAt", "updatedAt", "paidAt")
SELECT c.id, c.program_id, c.settlement_id, c.affiliate_id,
       CASE WHEN c.level = 2 THEN c.affiliate_id END, c.commission_type, c.rate, c.base_amount,
       c.amount, 'USD', c.status, p.id, c.created_at, coalesce(c.updated_at, c.created_at), c.paid_at
FROM sge_comm c LEFT JOIN sge_payout p ON p.payout_no = c.payout_no;

-- commission accruals: debit program commission_expense, credit affiliate:<aid>:liability
INSERT INTO public."LedgerEntry" ("id", "programId", "account", "counterparty", "amount",
    "currency", "refType", "refId", "settlementId", "description", "createdAt")
SELECT pg_temp.sge_cuid(c.created_at, c.comm_no * 2 + l.leg, 16, c.seed), c.program_id,
       l.account, l.counterparty, l.amount, 'USD', 'COMMISSION', c.id, NULL,
       l.side || c.commission_type || ' commission on settlement ' || c.settlement_id, c.created_at
FROM sge_comm c
CROSS JOIN LATERAL (VALUES
    (0, 'program:' || c.program_id || ':commission_expense', 'affiliate:' || c.affiliate_id || ':liability',
        c.amount, 'DEBIT: '),
    (1, 'affiliate:' || c.affiliate_id || ':liability', 'program:' || c.program_id || ':commission_expense',
        -c.amount, 'CREDIT: ')
) l(leg, account, counterparty, amount, side);

-- payouts paid out: debit affiliate:<aid>:liability, credit program treasury
INSERT INTO public."LedgerEntry" ("id", "programId", "account", "counterparty", "amount",
    "currency", "refType", "refId", "settlementId", "description", "createdAt")
SELECT pg_temp.sge_cuid(p.executed_at, p.payout_no * 2 + l.leg, 26, p.seed), p.program_id,
       l.account, l.counterparty, l.amount, 'USD', 'PAYOUT', p.id, NULL,
       l.side || 'Payout ' || p.id || ' - ' || p.tx_hash, p.executed_at
FROM sge_payout p
CROSS JOIN LATERAL (VALUES
    (0, 'affiliate:' || p.affiliate_id || ':liability', 'program:' || p.program_id || ':treasury',
        p.amount, 'DEBIT: '),
    (1, 'program:' || p.program_id || ':treasury', 'affiliate:' || p.affiliate_id || ':liability',
        -p.amount, 'CREDIT: ')
) l(leg, account, counterparty, amount, side)
WHERE p.line_status = 'COMPLETED';
