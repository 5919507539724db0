-- The SGE platform schema (DESIGN §4). Created only where absent (demo, tests): against a real
-- platform database every table already exists and `sge-recon db init` only verifies its shape.
-- Money is numeric(38,6), timestamps timestamptz. Columns beyond the contract are nullable or
-- defaulted, so a row written with only the contract's columns is valid.

CREATE TABLE IF NOT EXISTS public.programs (
    id                      text PRIMARY KEY,
    name                    text NOT NULL,
    currency                text NOT NULL,
    treasury_address        text NOT NULL,
    direct_commission_rate  numeric(12,6) NOT NULL,
    parent_commission_rate  numeric(12,6) NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.affiliates (
    id          text PRIMARY KEY,
    program_id  text NOT NULL REFERENCES public.programs(id),
    code        text NOT NULL,
    parent_id   text NULL,  -- no FK on purpose: the affiliate_tree check must catch dangling parents
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.users (
    id           text PRIMARY KEY,
    program_id   text NOT NULL REFERENCES public.programs(id),
    wallet       text NOT NULL,
    referred_by  text NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.settlement_intents (
    id                 text PRIMARY KEY,
    program_id         text NOT NULL,
    user_id            text NOT NULL,
    amount             numeric(38,6) NOT NULL,
    currency           text NOT NULL,
    status             text NOT NULL CHECK (status IN
                         ('created','payment_pending','verifying','processing','completed','failed')),
    idempotency_key    text NOT NULL UNIQUE,
    attempts           integer NOT NULL DEFAULT 0,
    last_error         text NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    status_changed_at  timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz NULL
);

CREATE TABLE IF NOT EXISTS public.settlements (
    id            text PRIMARY KEY,
    intent_id     text NOT NULL UNIQUE,
    program_id    text NOT NULL,
    tx_hash       text NOT NULL,
    block_number  bigint NOT NULL,
    amount        numeric(38,6) NOT NULL,
    confirmed_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS public.chain_transactions (
    tx_hash       text PRIMARY KEY,
    block_number  bigint NOT NULL,
    from_address  text NOT NULL,
    to_address    text NOT NULL,
    amount        numeric(38,6) NOT NULL,
    observed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.ledger_entries (
    id              bigserial PRIMARY KEY,
    program_id      text NOT NULL,
    transaction_id  text NOT NULL,
    intent_id       text NULL,
    account         text NOT NULL,
    type            text NOT NULL CHECK (type IN ('debit','credit')),
    amount          numeric(38,6) NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.commissions (
    id               text PRIMARY KEY,
    program_id       text NOT NULL,
    affiliate_id     text NOT NULL,
    intent_id        text NOT NULL,
    level            integer NOT NULL CHECK (level IN (1, 2)),
    rate             numeric(12,6) NOT NULL,
    base_amount      numeric(38,6) NOT NULL,
    amount           numeric(38,6) NOT NULL,
    status           text NOT NULL CHECK (status IN ('accrued','payable','paid')),
    payout_batch_id  text NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.payout_batches (
    id               text PRIMARY KEY,
    program_id       text NOT NULL,
    status           text NOT NULL CHECK (status IN
                       ('pending_approval','approved','executing','executed','failed','rejected')),
    affiliate_count  integer NOT NULL,
    total_amount     numeric(38,6) NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    approved_at      timestamptz NULL,
    executed_at      timestamptz NULL
);

CREATE TABLE IF NOT EXISTS public.payout_approvals (
    batch_id     text NOT NULL,
    approver     text NOT NULL,
    approved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, approver)
);

CREATE TABLE IF NOT EXISTS public.webhook_endpoints (
    id           text PRIMARY KEY,
    program_id   text NOT NULL,
    url          text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    disabled_at  timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    secret       text NULL  -- HMAC-SHA256 signing secret (reference platform)
);

CREATE TABLE IF NOT EXISTS public.webhook_deliveries (
    id               text PRIMARY KEY,
    endpoint_id      text NOT NULL,
    event_type       text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL CHECK (status IN ('pending','delivered','retry_scheduled','failed')),
    attempt_count    integer NOT NULL DEFAULT 0,
    last_error       text NULL,
    last_attempt_at  timestamptz NULL,
    next_retry_at    timestamptz NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.worker_heartbeats (
    worker_id       text PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    jobs_completed  bigint NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS public.jobs (
    id           bigserial PRIMARY KEY,
    queue        text NOT NULL DEFAULT 'settlement',
    intent_id    text NULL,
    status       text NOT NULL CHECK (status IN ('waiting','active','completed','failed','delayed')),
    attempts     integer NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz NULL,
    finished_at  timestamptz NULL,
    last_error   text NULL,
    worker_id    text NULL
);

CREATE TABLE IF NOT EXISTS public.queue_control (
    queue       text PRIMARY KEY,
    paused      boolean NOT NULL DEFAULT false,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NULL
);

CREATE TABLE IF NOT EXISTS public.rpc_calls (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL,
    method      text NOT NULL,
    latency_ms  numeric(12,3) NOT NULL,
    ok          boolean NOT NULL,
    called_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO public.queue_control (queue, paused, changed_by)
VALUES ('settlement', false, 'db init') ON CONFLICT (queue) DO NOTHING;
