-- Tamper-evident journal (issue 19): every check run, incident transition, console action and
-- payout-breaker override appends one entry, in the same transaction as the event itself (a
-- trigger: no code path can write the event without its entry). Each entry's hash is
-- sha256(previous entry's hash || event), event being the canonical JSON (jsonb's normalised
-- text: keys sorted, one spacing) of {seq, at, source, op, row}. The monthly audit export carries
-- the month's entries; `sge-recon export verify` recomputes the chain, so a removed or altered
-- entry is named.
CREATE TABLE IF NOT EXISTS recon.journal (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    source     text NOT NULL,
    op         text NOT NULL,
    ref        text NULL,
    event      text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_at_idx ON recon.journal (at);
COMMENT ON TABLE recon.journal IS
    'Tamper-evident journal: one hash-chained entry per check run, incident transition, console action and breaker override, written by triggers in the event''s own transaction';
COMMENT ON COLUMN recon.journal.seq IS 'Position in the chain: 1, 2, 3, ... without gaps';
COMMENT ON COLUMN recon.journal.at IS 'When the entry was appended (UTC; increases with seq)';
COMMENT ON COLUMN recon.journal.source IS 'The recon table whose row is the event: check_runs, incidents, action_log, breaker_overrides';
COMMENT ON COLUMN recon.journal.op IS 'insert or update (an incident transition, a run finishing, an override confirmed or used)';
COMMENT ON COLUMN recon.journal.ref IS 'The id of the row the event is about';
COMMENT ON COLUMN recon.journal.event IS 'Canonical JSON of the event {seq, at, source, op, row}: the exact text that is hashed';
COMMENT ON COLUMN recon.journal.prev_hash IS 'hash of the previous entry (64 zeros for the first one)';
COMMENT ON COLUMN recon.journal.hash IS 'hex sha256 of prev_hash || event (UTF-8)';

CREATE OR REPLACE FUNCTION recon.journal_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq  bigint;
    last_hash text;
    stamp     timestamptz;
    body      jsonb;
    ident     text;
    ev        text;
BEGIN
    -- one writer at a time: the chain has no forks and seq no gaps
    PERFORM pg_advisory_xact_lock(7312001919);
    SELECT seq, hash INTO last_seq, last_hash FROM recon.journal ORDER BY seq DESC LIMIT 1;
    last_seq := coalesce(last_seq, 0) + 1;
    last_hash := coalesce(last_hash, repeat('0', 64));
    stamp := clock_timestamp();
    body := to_jsonb(NEW);
    ident := coalesce(body ->> 'id', body ->> 'run_id');
    ev := jsonb_build_object('seq', last_seq, 'at', stamp, 'source', TG_TABLE_NAME,
                             'op', lower(TG_OP), 'row', body)::text;
    INSERT INTO recon.journal (seq, at, source, op, ref, event, prev_hash, hash)
    VALUES (last_seq, stamp, TG_TABLE_NAME, lower(TG_OP), ident, ev, last_hash,
            encode(sha256(convert_to(last_hash || ev, 'UTF8')), 'hex'));
    RETURN NULL;
END $$;
COMMENT ON FUNCTION recon.journal_append() IS
    'Appends the triggering row to recon.journal as the next hash-chained entry';

DROP TRIGGER IF EXISTS journal_check_runs ON recon.check_runs;
CREATE TRIGGER journal_check_runs AFTER INSERT OR UPDATE OF status, finished_at
    ON recon.check_runs FOR EACH ROW EXECUTE FUNCTION recon.journal_append();
DROP TRIGGER IF EXISTS journal_incidents_insert ON recon.incidents;
CREATE TRIGGER journal_incidents_insert AFTER INSERT
    ON recon.incidents FOR EACH ROW EXECUTE FUNCTION recon.journal_append();
DROP TRIGGER IF EXISTS journal_incidents_transition ON recon.incidents;
CREATE TRIGGER journal_incidents_transition AFTER UPDATE ON recon.incidents FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.acknowledged_by IS DISTINCT FROM NEW.acknowledged_by
          OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION recon.journal_append();
DROP TRIGGER IF EXISTS journal_action_log ON recon.action_log;
CREATE TRIGGER journal_action_log AFTER INSERT
    ON recon.action_log FOR EACH ROW EXECUTE FUNCTION recon.journal_append();
DROP TRIGGER IF EXISTS journal_breaker_overrides ON recon.breaker_overrides;
CREATE TRIGGER journal_breaker_overrides AFTER INSERT OR UPDATE
    ON recon.breaker_overrides FOR EACH ROW EXECUTE FUNCTION recon.journal_append();
