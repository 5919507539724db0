-- Intents over the 60 days before as_of, evenly spread and jittered, the newest the highest n.
-- Historical ones (created up to as_of - 10 min) are CONFIRMED (97 %), FAILED after five
-- attempts, or EXPIRED; the last n_live ones, created in the last five minutes, are PENDING or
-- PROCESSING (work in hand, never stuck; half of the PENDING ones wait for a retry after a
-- failed first attempt). Types: a user's first intent is its REGISTER (the idempotency key
-- register:<programId>:<wallet> allows one), later ones COMMERCE_PAYMENT 65 %, CLAIM 25 %,
-- PAYOUT 10 % (a PAYOUT intent is an affiliate's: its wallet is the affiliate's, not a user's).
-- Idempotency keys have the shapes intent.service.ts generates.
-- The settlement a CONFIRMED intent produced is computed here too (gen_50 writes it).
CREATE TEMP TABLE sge_intent ON COMMIT DROP AS
WITH base AS (
    SELECT n, sp.seed, sp.as_of, sp.n_users, sp.n_affiliates, sp.n_programs,
           n > sp.n_intents - sp.n_live AS live,
           CASE WHEN n <= sp.n_intents - sp.n_live
                THEN sp.as_of - interval '60 days'
                     + ((n - 1 + pg_temp.sge_u(sp.seed, n, 41)) / (sp.n_intents - sp.n_live))
                       * (interval '60 days' - interval '10 minutes')
                ELSE sp.as_of - interval '5 minutes'
                     + ((n - (sp.n_intents - sp.n_live) - 1 + pg_temp.sge_u(sp.seed, n, 41))
                        / sp.n_live) * interval '270 seconds'
           END::timestamp(3) AS created_at,
           floor(pg_temp.sge_u(sp.seed, n, 42) * sp.n_users * sp.n_programs)::bigint AS user_no,
           pg_temp.sge_u(sp.seed, n, 43) AS u_type,
           pg_temp.sge_u(sp.seed, n, 44) AS u_status,
           pg_temp.sge_u(sp.seed, n, 45) AS u_attempts,
           pg_temp.sge_u(sp.seed, n, 46) AS u_duration,
           pg_temp.sge_u(sp.seed, n, 47) AS u_amount,
           pg_temp.sge_u(sp.seed, n, 48) AS u_error
    FROM sge_params sp CROSS JOIN LATERAL generate_series(1, sp.n_intents) n
), shaped AS (
    SELECT b.*,
           (b.user_no % b.n_programs)::integer AS program_no,
           b.user_no / b.n_programs AS user_idx,
           CASE WHEN row_number() OVER (PARTITION BY b.user_no ORDER BY b.n) = 1 THEN 'REGISTER'
                WHEN b.u_type < 0.65 THEN 'COMMERCE_PAYMENT'
                WHEN b.u_type < 0.90 THEN 'CLAIM' ELSE 'PAYOUT' END::"IntentType" AS type,
           CASE WHEN b.live THEN (CASE WHEN b.n % 2 = 0 THEN 'PENDING' ELSE 'PROCESSING' END)
                WHEN b.u_status < 0.02 THEN 'FAILED' WHEN b.u_status < 0.03 THEN 'EXPIRED'
                ELSE 'CONFIRMED' END::"IntentStatus" AS status
    FROM base b
), timed AS (
    SELECT s.*,
           CASE s.status WHEN 'CONFIRMED' THEN CASE WHEN s.u_attempts < 0.9 THEN 1 ELSE 2 END
                         WHEN 'FAILED' THEN 5 WHEN 'PROCESSING' THEN 1
                         WHEN 'PENDING' THEN CASE WHEN s.n % 4 = 0 THEN 1 ELSE 0 END
                         ELSE 0 END AS attempts,
           -- the worker's retries back off 2^attempts seconds: 2 s before the second attempt,
           -- 2+4+8+16 = 30 s before the fifth
           CASE s.status
                WHEN 'CONFIRMED' THEN (s.created_at + (0.8 + 3.0 * s.u_duration) * interval '1 second'
                                       + CASE WHEN s.u_attempts < 0.9 THEN interval '0'
                                              ELSE interval '2 seconds' END)::timestamp(3)
           END AS completed_at,
           CASE s.status
                WHEN 'CONFIRMED' THEN (s.created_at + 0.2 * interval '1 second'
                                       + CASE WHEN s.u_attempts < 0.9 THEN interval '0'
                                              ELSE interval '2 seconds' END)::timestamp(3)
                WHEN 'FAILED' THEN (s.created_at + interval '30 seconds'
                                    + (0.2 + s.u_duration) * interval '1 second')::timestamp(3)
                WHEN 'PROCESSING' THEN (s.created_at + interval '200 milliseconds')::timestamp(3)
                WHEN 'PENDING' THEN CASE WHEN s.n % 4 = 0
                                         THEN (s.created_at + interval '200 milliseconds')::timestamp(3) END
           END AS last_attempt_at
    FROM shaped s
)
SELECT t.n, t.program_no, pr.id AS program_id, t.type, t.status, t.attempts, t.created_at,
       t.completed_at, t.last_attempt_at,
       CASE t.status WHEN 'CONFIRMED' THEN t.completed_at
                     WHEN 'FAILED' THEN t.last_attempt_at + interval '150 milliseconds'
                     WHEN 'EXPIRED' THEN t.created_at + interval '1 hour'
                     WHEN 'PROCESSING' THEN t.last_attempt_at
                     ELSE coalesce(t.last_attempt_at + interval '100 milliseconds', t.created_at)
       END::timestamp(3) AS updated_at,
       -- a failed attempt that will be retried: back off 2^attempts seconds
       CASE WHEN t.status = 'PENDING' AND t.attempts > 0
            THEN (t.last_attempt_at + interval '2 seconds')::timestamp(3) END AS next_retry_at,
       CASE t.status WHEN 'FAILED' THEN (ARRAY[
                'RPC error: eth_sendRawTransaction timed out',
                'execution reverted: ClaimAlreadyMade',
                'insufficient funds for gas * price + value',
                'nonce too low'])[1 + floor(t.u_error * 4)::integer]
                     WHEN 'EXPIRED' THEN 'Intent expired before it was processed'
                     WHEN 'PENDING' THEN CASE WHEN t.attempts > 0
                                              THEN 'RPC error: eth_sendRawTransaction timed out' END
       END AS error_message,
       CASE WHEN t.status = 'PROCESSING' THEN 'intents-worker-' || (1 + t.n % 3) END AS locked_by,
       CASE WHEN t.status = 'PROCESSING'
            THEN (t.last_attempt_at + interval '5 minutes')::timestamp(3) END AS locked_until,
       u.id AS user_id,
       CASE WHEN t.type = 'PAYOUT' THEN a.wallet ELSE u.wallet END AS wallet,
       CASE WHEN t.type = 'PAYOUT' THEN a.id END AS payout_affiliate_id,
       CASE t.type WHEN 'REGISTER' THEN pr.fee_usd
                   WHEN 'CLAIM' THEN pr.claim_amount
                   WHEN 'COMMERCE_PAYMENT' THEN round((5 + 995 * power(t.u_amount, 2))::numeric, 2)
                   ELSE round((20 + 480 * t.u_amount)::numeric, 2) END::numeric(18,6) AS amount,
       CASE t.type
            WHEN 'REGISTER' THEN 'register:' || pr.id || ':' || u.wallet
            WHEN 'CLAIM' THEN 'claim:' || pr.id || ':' || u.wallet || ':SGE:c' || t.n
            WHEN 'COMMERCE_PAYMENT' THEN 'commerce:' || pr.id || ':' || u.wallet || ':ch_' || t.n
            ELSE 'payout:' || pr.id || ':' || a.id || ':' || to_char(t.created_at, 'YYYY-MM') || '.' || t.n
       END AS idempotency_key,
       pg_temp.sge_cuid(t.created_at, t.n, 4, t.seed) AS id,
       -- its settlement (CONFIRMED intents only)
       pg_temp.sge_cuid(t.completed_at, t.n, 5, t.seed) AS settlement_id,
       '0x' || pg_temp.sge_hex(t.seed, 'tx:' || t.n, 32) || pg_temp.sge_hex(t.seed, 'tx2:' || t.n, 32)
           AS tx_hash,
       date_trunc('second', t.completed_at - interval '1 second')::timestamp(3) AS block_timestamp,
       false AS unverified  -- every clean settlement was verified on chain (see faults/settlement_unverified.sql)
FROM timed t
JOIN sge_prog pr ON pr.program_no = t.program_no
JOIN sge_user u ON u.program_no = t.program_no AND u.idx = t.user_idx
JOIN sge_aff a ON a.program_no = t.program_no AND a.idx = t.user_idx % t.n_affiliates;
ANALYZE sge_intent;

INSERT INTO public."Intent" ("id", "programId", "type", "idempotencyKey", "wallet", "payload",
    "status", "attempts", "lastAttemptAt", "nextRetryAt", "resultTxHash", "resultData",
    "errorMessage", "lockedBy", "lockedUntil", "createdAt", "updatedAt", "completedAt")
SELECT i.id, i.program_id, i.type, i.idempotency_key, i.wallet,
       CASE i.type
            WHEN 'REGISTER' THEN jsonb_build_object('wallet', i.wallet, 'amount', i.amount::text,
                                                     'token', 'USDC')
            WHEN 'COMMERCE_PAYMENT' THEN jsonb_build_object('wallet', i.wallet,
                'amount', i.amount::text, 'token', 'USDC', 'chargeId', 'ch_' || i.n)
            WHEN 'CLAIM' THEN jsonb_build_object('wallet', i.wallet, 'amount', i.amount::text,
                                                  'token', 'SGE', 'cycle', 'c' || i.n)
            ELSE jsonb_build_object('affiliateId', i.payout_affiliate_id, 'wallet', i.wallet,
                                    'amount', i.amount::text, 'token', 'USDC',
                                    'period', split_part(i.idempotency_key, ':', 4))
       END,
       i.status, i.attempts, i.last_attempt_at, i.next_retry_at,
       CASE WHEN i.status = 'CONFIRMED' THEN i.tx_hash END,
       CASE WHEN i.status = 'CONFIRMED' THEN jsonb_build_object('txHash', i.tx_hash) END,
       i.error_message, i.locked_by, i.locked_until, i.created_at, i.updated_at, i.completed_at
FROM sge_intent i;
