-- The reference platform's audit log of state-changing admin API calls (DESIGN §6): who, when,
-- what, result. The real platform keeps its own; sge-recon only reads it (console, exports).
CREATE TABLE IF NOT EXISTS public.admin_audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,          -- key identity (role:name), never the key itself
    method       text NOT NULL,
    path         text NOT NULL,
    target       text NULL,
    body         jsonb NULL,
    status_code  integer NOT NULL,
    result       text NOT NULL,          -- ok | refused | error
    message      text NULL
);
CREATE INDEX IF NOT EXISTS admin_audit_log_at_idx ON public.admin_audit_log (at);
