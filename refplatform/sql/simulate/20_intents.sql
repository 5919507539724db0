-- Settlement intents over the last 90 days, their settlements, the matching on-chain transfers
-- and the payment journal. Intent n is created at an evenly spread time (jittered) so that the
-- newest intents are the highest numbers; nothing historical is newer than as_of - 2 min.

CREATE TEMP TABLE sim_intents ON COMMIT DROP AS
WITH base AS (
    SELECT n,
           floor(pg_temp.sim_u(sp.seed, n, 1) * sp.n_users)::bigint AS user_no,
           pg_temp.sim_u(sp.seed, n, 2) AS u_status,
           pg_temp.sim_u(sp.seed, n, 3) AS u_amount,
           pg_temp.sim_u(sp.seed, n, 4) AS u_currency,
           pg_temp.sim_u(sp.seed, n, 5) AS u_duration,
           pg_temp.sim_u(sp.seed, n, 6) AS u_error,
           pg_temp.sim_u(sp.seed, n, 7) AS u_attempts,
           sp.as_of - interval '90 days'
               + ((n - 1 + pg_temp.sim_u(sp.seed, n, 8)) / sp.n_intents)
                 * (interval '90 days' - interval '2 minutes') AS created_at,
           sp.as_of, sp.n_programs, sp.seed
    FROM sim_params sp CROSS JOIN LATERAL generate_series(1, sp.n_intents) n
), shaped AS (
    SELECT b.*,
           (b.user_no % b.n_programs)::integer AS program_no,
           CASE WHEN b.u_status < 0.96 THEN 'completed'
                WHEN b.u_status < 0.995 THEN 'failed'
                ELSE 'created' END AS status,  -- 'created': abandoned before paying
           -- retried failures only where the whole backoff fits before as_of
           CASE WHEN b.created_at > b.as_of - interval '2 hours' THEN 1
                ELSE 1 + floor(b.u_attempts * 5)::integer END AS failed_attempts
    FROM base b
)
SELECT s.n,
       pg_temp.sim_intent_id(s.n) AS id,
       s.user_no,
       pg_temp.sim_user_id(s.user_no) AS user_id,
       s.program_no,
       pg_temp.sim_program_id(s.program_no) AS program_id,
       round((10 + 4990 * power(s.u_amount, 3))::numeric, 2)::numeric(38,6) AS amount,
       CASE WHEN s.program_no = 0 AND s.u_currency < 0.25 THEN 'EUR'
            ELSE pg_temp.sim_currency(s.program_no) END AS currency,
       s.status,
       'idem_' || pg_temp.sim_intent_id(s.n) || '_' || substr(md5(s.seed::text || ':idem:' || s.n), 1, 12)
           AS idempotency_key,
       CASE s.status WHEN 'completed' THEN 1 WHEN 'failed' THEN s.failed_attempts ELSE 0 END
           AS attempts,
       CASE WHEN s.status = 'failed' THEN (ARRAY[
                'payment not received before the deadline',
                'rpc timeout: eth_getTransactionReceipt',
                'amount mismatch: received less than expected',
                'transaction reverted on chain',
                'wallet blocked by compliance screening'])[1 + floor(s.u_error * 5)::integer]
       END AS last_error,
       s.created_at,
       CASE s.status
            WHEN 'completed' THEN s.created_at + (0.8 + 3.0 * s.u_duration) * interval '1 second'
            WHEN 'failed' THEN s.created_at + pg_temp.sim_attempt_offset(s.failed_attempts)
                               + (1 + 4 * s.u_duration) * interval '1 second'
            ELSE s.created_at END AS status_changed_at,
       CASE WHEN s.status = 'completed'
            THEN s.created_at + (0.8 + 3.0 * s.u_duration) * interval '1 second' END AS completed_at,
       CASE WHEN s.status = 'completed'
            THEN pg_temp.sim_tx_hash(s.seed, s.n::text) END AS tx_hash
FROM shaped s;

-- Temporary tables get no statistics from autovacuum; the joins below need them.
ANALYZE sim_intents;

INSERT INTO public.settlement_intents (id, program_id, user_id, amount, currency, status,
                                       idempotency_key, attempts, last_error, created_at,
                                       status_changed_at, completed_at)
SELECT id, program_id, user_id, amount, currency, status, idempotency_key, attempts, last_error,
       created_at, status_changed_at, completed_at
FROM sim_intents;

INSERT INTO public.settlements (id, intent_id, program_id, tx_hash, block_number, amount,
                                confirmed_at)
SELECT 'set_' || lpad(n::text, 9, '0'), id, program_id, tx_hash,
       floor(extract(epoch FROM completed_at) / 12)::bigint, amount, completed_at
FROM sim_intents WHERE status = 'completed';

-- What the RPC reports: each settlement's transfer to its program's treasury, same amount ...
INSERT INTO public.chain_transactions (tx_hash, block_number, from_address, to_address, amount,
                                       observed_at)
SELECT i.tx_hash, floor(extract(epoch FROM i.completed_at) / 12)::bigint,
       pg_temp.sim_addr(sp.seed, 'wallet:' || i.user_no),
       pg_temp.sim_addr(sp.seed, 'treasury:' || i.program_no),
       i.amount, i.completed_at - interval '400 milliseconds'
FROM sim_intents i CROSS JOIN sim_params sp WHERE i.status = 'completed'
ORDER BY i.tx_hash;  -- random keys: sorted, the primary key is appended to instead of split

-- ... and unrelated traffic the RPC also sees (to addresses that are no treasury).
INSERT INTO public.chain_transactions (tx_hash, block_number, from_address, to_address, amount,
                                       observed_at)
SELECT pg_temp.sim_tx_hash(sp.seed, 'noise:' || t),
       floor(extract(epoch FROM at) / 12)::bigint,
       pg_temp.sim_addr(sp.seed, 'noise-from:' || t),
       pg_temp.sim_addr(sp.seed, 'noise-to:' || t),
       round((1 + 999 * pg_temp.sim_u(sp.seed, t, 31))::numeric, 2),
       at
FROM sim_params sp
CROSS JOIN LATERAL generate_series(1, sp.n_noise_tx) t
CROSS JOIN LATERAL (SELECT sp.as_of - interval '90 days'
                           + pg_temp.sim_u(sp.seed, t, 32) * (interval '90 days' - interval '2 minutes')
                           AS at) x;

-- Payment journal: the treasury receives the payment, owed to the user. Entry ids are a pure
-- function of the intent number (10n + 1..6), so they do not depend on insertion order.
INSERT INTO public.ledger_entries (id, program_id, transaction_id, intent_id, account, type,
                                   amount, currency, created_at)
SELECT 10 * i.n + e.k, i.program_id, 'txn_pay_' || i.id, i.id,
       CASE e.k WHEN 1 THEN 'treasury' ELSE 'user:' || i.user_id END,
       e.type, i.amount, i.currency, i.completed_at
FROM sim_intents i CROSS JOIN (VALUES (1, 'debit'), (2, 'credit')) e(k, type)
WHERE i.status = 'completed';
