-- sge-recon's own state, in its own schema. Never written by the platform.

CREATE TABLE IF NOT EXISTS recon.check_runs (
    run_id       uuid PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NULL,
    status       text NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    engine       text NOT NULL CHECK (engine IN ('sql', 'gx')),
    trigger      text NOT NULL DEFAULT 'cli',      -- cli | scheduler | console | api | bench
    only_checks  text[] NULL,
    error        text NULL
);
CREATE INDEX IF NOT EXISTS check_runs_started_at_idx ON recon.check_runs (started_at DESC);

CREATE TABLE IF NOT EXISTS recon.check_results (
    run_id        uuid NOT NULL REFERENCES recon.check_runs(run_id) ON DELETE CASCADE,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    priority      text NULL,
    failing_rows  bigint NULL,
    value         numeric NULL,
    rows          jsonb NOT NULL DEFAULT '[]'::jsonb,
    duration_ms   numeric(12,3) NULL,
    error         text NULL,
    engine        text NOT NULL,
    details       jsonb NULL,                      -- engine-specific result (e.g. GX JSON)
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS check_results_name_idx ON recon.check_results (name, created_at DESC);

-- Every console action: who, when, what, on which target, and what the API answered.
CREATE TABLE IF NOT EXISTS recon.action_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    operator     text NOT NULL,
    action       text NOT NULL,
    target       text NULL,
    request      jsonb NULL,
    result       text NOT NULL CHECK (result IN ('ok', 'failed')),
    status_code  integer NULL,
    response     jsonb NULL,
    error        text NULL
);
CREATE INDEX IF NOT EXISTS action_log_at_idx ON recon.action_log (at);

-- Scheduled job runs. UNIQUE (job, scheduled_for) makes a slot run once across schedulers.
CREATE TABLE IF NOT EXISTS recon.job_runs (
    id             bigserial PRIMARY KEY,
    job            text NOT NULL,
    scheduled_for  timestamptz NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz NULL,
    status         text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    error          text NULL,
    details        jsonb NULL,
    host           text NULL,
    UNIQUE (job, scheduled_for)
);

CREATE TABLE IF NOT EXISTS recon.incidents (
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL,               -- ledger_imbalance, worker_down, ...
    key               text NOT NULL DEFAULT '',    -- what it is about (program/currency, ...)
    priority          text NOT NULL CHECK (priority IN ('P0', 'P1', 'P2', 'P3')),
    status            text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    title             text NOT NULL,
    details           jsonb NULL,
    money_at_stake    numeric(38,6) NULL,
    opened_at         timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_notified_at  timestamptz NULL,
    acknowledged_at   timestamptz NULL,
    acknowledged_by   text NULL,
    resolved_at       timestamptz NULL,
    notes             text NULL,
    check_run_id      uuid NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_open_idx ON recon.incidents (kind, key)
    WHERE status <> 'resolved';

CREATE TABLE IF NOT EXISTS recon.alert_deliveries (
    id            bigserial PRIMARY KEY,
    incident_id   bigint NULL REFERENCES recon.incidents(id),
    channel       text NOT NULL,                   -- slack | discord
    event         text NOT NULL,                   -- open | reminder | resolve | payout_reminder
    payload       jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz NULL
);
CREATE INDEX IF NOT EXISTS alert_deliveries_pending_idx ON recon.alert_deliveries (created_at)
    WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS recon.runbook_ticks (
    day        date NOT NULL,
    operator   text NOT NULL,
    item       text NOT NULL,
    ticked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, operator, item)
);

CREATE TABLE IF NOT EXISTS recon.metric_samples (
    sampled_at  timestamptz NOT NULL DEFAULT now(),
    metric      text NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
    value       numeric NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_samples_metric_idx ON recon.metric_samples (metric, sampled_at);
