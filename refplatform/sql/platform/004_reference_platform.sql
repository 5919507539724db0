-- Bookkeeping of the reference platform (refplatform/): tables beside the contract's, so
-- that a real platform database is never altered. Created only where absent.

-- Every manual ledger correction: the reason and who asked, keyed by its journal transaction.
CREATE TABLE IF NOT EXISTS public.ledger_corrections (
    transaction_id  text PRIMARY KEY,
    program_id      text NOT NULL,
    reason          text NOT NULL,
    actor           text NOT NULL,
    entry_count     integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The Idempotency-Key of each correction request that carried one: the same key sent again (a
-- retry after a timeout, a second admin confirming a request whose first answer was lost) gets
-- the first answer back instead of a second posting. request_digest (sha256 of the program, the
-- completed transaction and the entries) refuses a key reused for other money.
CREATE TABLE IF NOT EXISTS public.admin_request_keys (
    request_key     text PRIMARY KEY,
    operation       text NOT NULL,
    request_digest  text NOT NULL,
    transaction_id  text NOT NULL,
    answer          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per endpoint that has failed since its last success: drives the 24 h disable rule.
CREATE TABLE IF NOT EXISTS public.webhook_endpoint_health (
    endpoint_id           text PRIMARY KEY,
    failing_since         timestamptz NULL,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    last_success_at       timestamptz NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Every HTTP attempt of the dispatcher (the deliveries table keeps only the last one).
CREATE TABLE IF NOT EXISTS public.webhook_attempts (
    id            bigserial PRIMARY KEY,
    delivery_id   text NOT NULL,
    endpoint_id   text NOT NULL,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    ok            boolean NOT NULL,
    status_code   integer NULL,
    error         text NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery_idx ON public.webhook_attempts (delivery_id);

-- Faults planted by `sge-recon traffic` for the worker to meet (payment late, RPC errors).
CREATE TABLE IF NOT EXISTS public.platform_faults (
    intent_id   text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('payment_delay', 'rpc_error')),
    remaining   integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The admin API's audit log is read per target (console drill-downs).
CREATE INDEX IF NOT EXISTS admin_audit_log_target_idx ON public.admin_audit_log (target);
