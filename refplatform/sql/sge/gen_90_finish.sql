-- Denormalised affiliate stats, as the services keep them (pending = accrued but not paid out;
-- total = paid out), then fresh planner statistics.
UPDATE public."Affiliate" a SET
    "totalReferrals" = coalesce(r.cnt, 0),
    "pendingEarnings" = coalesce(c.pending, 0),
    "totalEarnings" = coalesce(c.paid, 0),
    "updatedAt" = greatest(a."updatedAt", c.last_change)
FROM public."Affiliate" a2
LEFT JOIN (SELECT "referredById" AS id, count(*) AS cnt FROM public."User"
           WHERE "referredById" IS NOT NULL GROUP BY 1) r ON r.id = a2.id
LEFT JOIN (SELECT "affiliateId" AS id,
                  sum("amount") FILTER (WHERE "status" <> 'PAID') AS pending,
                  sum("amount") FILTER (WHERE "status" = 'PAID') AS paid,
                  max(greatest("createdAt", "paidAt")) AS last_change
           FROM public."Commission" GROUP BY 1) c ON c.id = a2.id
WHERE a2.id = a.id;

ANALYZE public."Program", public."Affiliate", public."User", public."Intent", public."Settlement",
        public."LedgerEntry", public."Commission", public."PayoutBatch", public."Payout",
        public."AuditLog";
