-- stuck_intents: two PROCESSING intents whose worker went silent 40 min ago (lock long expired;
-- the platform's own reconciler calls PROCESSING with "updatedAt" > 30 min stuck) and two PENDING
-- ones queued 20 min ago and never picked up. No settlement for any of them.
CREATE TEMP TABLE sge_f_stuck ON COMMIT DROP AS
SELECT k, u.program_no, pr.id AS program_id, u.wallet,
       CASE WHEN k <= 2 THEN 'PROCESSING' ELSE 'PENDING' END::"IntentStatus" AS status,
       (sp.as_of - CASE WHEN k <= 2 THEN interval '40 minutes' ELSE interval '20 minutes' END)::timestamp(3)
           AS updated_at,
       (sp.as_of - CASE WHEN k <= 2 THEN interval '41 minutes' ELSE interval '20 minutes' END)::timestamp(3)
           AS created_at,
       sp.seed
FROM sge_params sp
CROSS JOIN generate_series(1, 4) k
JOIN sge_user u ON u.program_no = (k - 1) % sp.n_programs AND u.idx = 5 + k
JOIN sge_prog pr ON pr.program_no = u.program_no;

ALTER TABLE sge_f_stuck ADD COLUMN id text;
UPDATE sge_f_stuck SET id = pg_temp.sge_cuid(created_at, 1000000000 + k, 52, seed);

INSERT INTO public."Intent" ("id", "programId", "type", "idempotencyKey", "wallet", "payload",
    "status", "attempts", "lastAttemptAt", "lockedBy", "lockedUntil", "createdAt", "updatedAt")
SELECT s.id, s.program_id, 'COMMERCE_PAYMENT',
       'commerce:' || s.program_id || ':' || s.wallet || ':ch_stuck_' || s.k,
       s.wallet, jsonb_build_object('wallet', s.wallet, 'amount', '42.00', 'token', 'USDC',
                                    'chargeId', 'ch_stuck_' || s.k),
       s.status, CASE WHEN s.status = 'PROCESSING' THEN 1 ELSE 0 END,
       CASE WHEN s.status = 'PROCESSING' THEN s.updated_at END,
       CASE WHEN s.status = 'PROCESSING' THEN 'intents-worker-3' END,
       CASE WHEN s.status = 'PROCESSING' THEN (s.updated_at + interval '5 minutes')::timestamp(3) END,
       s.created_at, s.updated_at
FROM sge_f_stuck s;

INSERT INTO sge_expect (fault, ident) SELECT 'stuck_intents', to_jsonb(id) FROM sge_f_stuck;
INSERT INTO sge_expect (fault, kind, ident)
SELECT 'stuck_intents', 'detail', jsonb_build_object('intentId', s.id, 'status', s.status,
       'programId', s.program_id,
       'stuck_seconds', extract(epoch FROM sp.as_of - s.updated_at)::integer)
FROM sge_f_stuck s CROSS JOIN sge_params sp;
