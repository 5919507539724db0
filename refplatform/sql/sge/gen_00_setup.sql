-- Session helpers of the SGE stand-in generator (refplatform/sge_platform.py). Runs first in
-- the load's one transaction; every temporary object here is dropped at commit.
--
-- Determinism: every pseudo-random value is a pure function of (seed, row number, salt), so the
-- same seed and as_of give the same rows whatever plan PostgreSQL picks (parallel or not). Nothing
-- depends on random()/setseed() state or on insertion order.

SET LOCAL temp_buffers = '256MB';
SET LOCAL maintenance_work_mem = '256MB';  -- the index rebuild after the bulk load
SET LOCAL work_mem = '64MB';                -- sorts and hashes of the set-based steps in memory

-- A uniform number in [0, 1) from (seed, n, salt).
CREATE OR REPLACE FUNCTION pg_temp.sge_u(seed bigint, n bigint, salt integer)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(n, seed * 7919 + salt) >> 11) & 9007199254740991)::float8
           / 9007199254740992.0
$$;

-- len lowercase hex digits from (seed, key): addresses, hashes, codes.
CREATE OR REPLACE FUNCTION pg_temp.sge_hex(seed bigint, key text, len integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substr(md5(seed::text || ':' || key) || md5(key || ':' || seed::text), 1, len)
$$;

-- Base-36 digits of a non-negative number, fixed width (0-9 then a-z; unrolled so that it inlines).
CREATE OR REPLACE FUNCTION pg_temp.sge_b36_digit(d bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT chr((48 + d + (d >= 10)::integer * 39)::integer)
$$;

CREATE OR REPLACE FUNCTION pg_temp.sge_b36_4(v bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_temp.sge_b36_digit(v / 46656 % 36) || pg_temp.sge_b36_digit(v / 1296 % 36)
        || pg_temp.sge_b36_digit(v / 36 % 36) || pg_temp.sge_b36_digit(v % 36)
$$;

CREATE OR REPLACE FUNCTION pg_temp.sge_b36_8(v bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_temp.sge_b36_4(v / 1679616 % 1679616) || pg_temp.sge_b36_4(v % 1679616)
$$;

-- A cuid (v1 layout, as Prisma's @default(cuid()) makes them): 'c' + 8 base-36 digits of the
-- creation time in ms + 4 of a counter + 4 of a host fingerprint + 8 random; 25 characters.
-- kind separates the id spaces of the tables. PL/pgSQL so that the time and the random number
-- are computed once (an inlined SQL function would repeat them for every digit).
CREATE OR REPLACE FUNCTION pg_temp.sge_cuid(ts timestamp, n bigint, kind integer, seed bigint)
RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    ms bigint := round(date_part('epoch', ts) * 1000)::bigint;
    r  bigint := (hashint8extended(n, seed * 131 + kind) & 9223372036854775807) % 2821109907456;
    fp bigint := (hashint8extended(seed, 77) & 9223372036854775807) % 1679616;
BEGIN
    RETURN 'c' || pg_temp.sge_b36_8(ms) || pg_temp.sge_b36_4(n % 1679616) || pg_temp.sge_b36_4(fp)
               || pg_temp.sge_b36_8(r);
END
$$;

-- The knobs of this load (filled by gen_01_params.sql). Times are UTC, naive, like the platform's.
CREATE TEMP TABLE sge_params (
    seed         bigint       NOT NULL,
    as_of        timestamp(3) NOT NULL,
    n_intents    bigint       NOT NULL,
    n_programs   integer      NOT NULL,
    n_affiliates bigint       NOT NULL,   -- per program
    n_users      bigint       NOT NULL,   -- per program
    n_live       bigint       NOT NULL    -- PENDING/PROCESSING intents of the last 5 minutes
) ON COMMIT DROP;

-- What each planted fault must make an independent check report (filled by faults/*.sql).
CREATE TEMP TABLE sge_expect (
    fault  text  NOT NULL,
    kind   text  NOT NULL DEFAULT 'expected',  -- 'expected', 'detail' or another check's name
    ident  jsonb NOT NULL
) ON COMMIT DROP;
