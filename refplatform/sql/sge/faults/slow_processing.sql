-- slow_processing: the last 100 CONFIRMED intents (by "completedAt") took 20-25 s from
-- "createdAt" to "completedAt". They remain the last 100: each now completes more than 20 s after
-- its creation, later than any earlier intent (at most ~6 s each) completes.
WITH last100 AS (
    SELECT i."id", i."createdAt"
    FROM public."Intent" i
    WHERE i."status" = 'CONFIRMED'
    ORDER BY i."completedAt" DESC, i."id" DESC
    LIMIT 100
)
UPDATE public."Intent" i
SET "completedAt" = (l."createdAt" + (20 + 5 * pg_temp.sge_u(sp.seed, hashtext(l."id"), 53))
                                     * interval '1 second')::timestamp(3),
    "updatedAt" = (l."createdAt" + (20 + 5 * pg_temp.sge_u(sp.seed, hashtext(l."id"), 53))
                                   * interval '1 second')::timestamp(3)
FROM last100 l CROSS JOIN sge_params sp
WHERE i."id" = l."id";

INSERT INTO sge_expect (fault, ident)
SELECT 'slow_processing', jsonb_build_object('mean_seconds', round(avg(s)::numeric, 3)::text)
FROM (SELECT extract(epoch FROM "completedAt" - "createdAt") AS s
      FROM public."Intent" WHERE "status" = 'CONFIRMED'
      ORDER BY "completedAt" DESC LIMIT 100) x;
