-- ledger_imbalance: a lone one-sided ADJUSTMENT entry (a credit of 25.00 to program 1's revenue,
-- no counter-entry), so program 1's signed total is -25.000000. The entry's journal
-- (ADJUSTMENT, refId) is itself unbalanced: reported as a side effect for transaction checks.
CREATE TEMP TABLE sge_f_lone ON COMMIT DROP AS
SELECT pg_temp.sge_cuid(sp.as_of - interval '2 hours', 5000000, 57, sp.seed) AS id,
       pg_temp.sge_cuid(sp.as_of - interval '2 hours', 5000001, 58, sp.seed) AS ref_id,
       pr.id AS program_id, (sp.as_of - interval '2 hours')::timestamp(3) AS at
FROM sge_params sp JOIN sge_prog pr ON pr.program_no = 1;

INSERT INTO public."LedgerEntry" ("id", "programId", "account", "counterparty", "amount",
    "currency", "refType", "refId", "settlementId", "description", "createdAt")
SELECT id, program_id, 'program:' || program_id || ':revenue', 'system:suspense', -25.000000,
       'USD', 'ADJUSTMENT', ref_id, NULL, 'CREDIT: Manual revenue adjustment', at
FROM sge_f_lone;

INSERT INTO sge_expect (fault, ident)
SELECT 'ledger_imbalance', jsonb_build_object('programId', e."programId", 'currency', e."currency",
       'difference', sum(e."amount")::numeric(18,6)::text)
FROM public."LedgerEntry" e JOIN sge_f_lone f ON f.program_id = e."programId"
GROUP BY e."programId", e."currency";
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'ledger_imbalance', 'unbalanced_transaction', to_jsonb('ADJUSTMENT:' || ref_id) FROM sge_f_lone;
