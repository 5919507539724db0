-- Every `sge-recon simulate` load. `--reset` only ever erases platform data that a simulation
-- loaded: a database with platform rows and no simulation recorded here (a real platform) is
-- refused.
CREATE TABLE IF NOT EXISTS recon.simulations (
    id         bigserial PRIMARY KEY,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    seed       bigint NOT NULL,
    intents    bigint NOT NULL,
    faults     text[] NOT NULL DEFAULT '{}',
    as_of      timestamptz NULL
);
