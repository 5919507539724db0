-- Before the session touches any temporary table: room for the working sets below
-- (sim_intents is ~200 MB at a million intents; the default 8 MB would page it through disk).
SET LOCAL temp_buffers = '256MB';

-- Session helpers of `sge-recon simulate`. Every pseudo-random value is a pure function of
-- (seed, row number, salt): the same seed and as-of give the same rows whatever plan PostgreSQL
-- picks, in any order, in parallel or not (no setseed()/random()).

-- A uniform number in [0, 1) from (seed, n, salt).
CREATE OR REPLACE FUNCTION pg_temp.sim_u(seed bigint, n bigint, salt integer)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(n, seed * 7919 + salt) >> 11) & 9007199254740991)::float8
           / 9007199254740992.0
$$;

-- The same for a text key (batches, endpoints).
CREATE OR REPLACE FUNCTION pg_temp.sim_ut(seed bigint, key text, salt integer)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashtextextended(key, seed * 7919 + salt) >> 11) & 9007199254740991)::float8
           / 9007199254740992.0
$$;

-- A 20-byte hex address ("0x" + 40 hex digits).
CREATE OR REPLACE FUNCTION pg_temp.sim_addr(seed bigint, key text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '0x' || substr(md5(seed::text || ':' || key) || md5(key || ':' || seed::text), 1, 40)
$$;

-- A 32-byte transaction hash ("0x" + 64 hex digits).
CREATE OR REPLACE FUNCTION pg_temp.sim_tx_hash(seed bigint, key text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '0x' || md5(seed::text || ':tx:' || key) || md5(key || ':tx:' || seed::text)
$$;

CREATE OR REPLACE FUNCTION pg_temp.sim_program_id(p integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'prog_' || lpad(p::text, 3, '0') $$;

CREATE OR REPLACE FUNCTION pg_temp.sim_affiliate_id(a bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'aff_' || lpad(a::text, 7, '0') $$;

CREATE OR REPLACE FUNCTION pg_temp.sim_user_id(u bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'usr_' || lpad(u::text, 8, '0') $$;

CREATE OR REPLACE FUNCTION pg_temp.sim_intent_id(n bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'int_' || lpad(n::text, 9, '0') $$;

CREATE OR REPLACE FUNCTION pg_temp.sim_endpoint_id(j integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'ep_' || lpad(j::text, 3, '0') $$;

-- A program's main currency. Program 0 also takes a share of its intents in EUR, so balances
-- are per (program, currency).
CREATE OR REPLACE FUNCTION pg_temp.sim_currency(p integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['USD', 'EUR', 'USDC', 'GBP', 'USDT', 'CHF'])[p % 6 + 1]
$$;

-- When the n-th attempt of something retried on the platform's schedule happens, counted from
-- the first attempt: 0, +1 min, +5 min, +15 min, +1 h (DESIGN §6), i.e. 0, 1, 6, 21, 81 minutes.
CREATE OR REPLACE FUNCTION pg_temp.sim_attempt_offset(attempt integer)
RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY[0, 1, 6, 21, 81])[least(greatest(attempt, 1), 5)] * interval '1 minute'
$$;

-- The knobs of this load, filled by the next statement (sizes come from --intents).
CREATE TEMP TABLE sim_params (
    seed          bigint      NOT NULL,
    as_of         timestamptz NOT NULL,
    as_of_given   boolean     NOT NULL,  -- false: --as-of defaulted to now()
    live_at       timestamptz NULL,      -- where "live" rows are placed; set by 50_live.sql
    n_intents     bigint      NOT NULL,
    n_programs    integer     NOT NULL,
    n_affiliates  bigint      NOT NULL,
    n_users       bigint      NOT NULL,
    n_endpoints   integer     NOT NULL,
    n_rpc_calls   bigint      NOT NULL,
    n_noise_tx    bigint      NOT NULL
) ON COMMIT DROP;
