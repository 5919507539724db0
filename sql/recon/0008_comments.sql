-- COMMENT ON every recon table and column, so that psql's \d+ and BI tools explain them
-- (tests/test_db_comments.py finds none uncommented). A new table or column needs its comment.

COMMENT ON SCHEMA recon IS 'sge-recon''s own state (checks, incidents, alerts, jobs, exports); never written by the platform';

COMMENT ON TABLE recon.schema_version IS 'Applied recon migrations (sql/recon/NNNN_name.sql), one row each';
COMMENT ON COLUMN recon.schema_version.version IS 'Migration number (NNNN of the file name)';
COMMENT ON COLUMN recon.schema_version.name IS 'Migration name (the rest of the file name)';
COMMENT ON COLUMN recon.schema_version.applied_at IS 'When `sge-recon db init` applied it';

COMMENT ON TABLE recon.check_runs IS 'One run of the check catalogue (sge-recon check, the scheduler, the console, the API)';
COMMENT ON COLUMN recon.check_runs.run_id IS 'The run''s id (run_id in check --format json)';
COMMENT ON COLUMN recon.check_runs.started_at IS 'When the run started';
COMMENT ON COLUMN recon.check_runs.finished_at IS 'When it finished; NULL while running or if it died';
COMMENT ON COLUMN recon.check_runs.status IS 'Overall status: pass, warn, fail or error (the worst of its checks)';
COMMENT ON COLUMN recon.check_runs.engine IS 'sql (plain SELECTs) or gx (Great Expectations)';
COMMENT ON COLUMN recon.check_runs.trigger IS 'Who ran it: cli, scheduler, console, api or bench';
COMMENT ON COLUMN recon.check_runs.only_checks IS 'The checks a partial run (--only) evaluated; NULL for a full run';
COMMENT ON COLUMN recon.check_runs.error IS 'Why the run could not complete, when it could not';

COMMENT ON TABLE recon.check_results IS 'One check''s result within a run (DESIGN §5)';
COMMENT ON COLUMN recon.check_results.run_id IS 'The run (recon.check_runs)';
COMMENT ON COLUMN recon.check_results.name IS 'Check name (checks/<name>.sql)';
COMMENT ON COLUMN recon.check_results.status IS 'pass, warn, fail or error (the check could not run)';
COMMENT ON COLUMN recon.check_results.priority IS 'P0..P3 from checks/checks.yml';
COMMENT ON COLUMN recon.check_results.failing_rows IS 'True count of failing rows (NULL for a metric check)';
COMMENT ON COLUMN recon.check_results.value IS 'The check''s value (metric checks; a measure, never money)';
COMMENT ON COLUMN recon.check_results.rows IS 'A bounded sample of the failing rows as JSON (money as decimal strings)';
COMMENT ON COLUMN recon.check_results.duration_ms IS 'How long the check took, in milliseconds';
COMMENT ON COLUMN recon.check_results.error IS 'Why the check could not run (status error)';
COMMENT ON COLUMN recon.check_results.engine IS 'sql or gx';
COMMENT ON COLUMN recon.check_results.details IS 'Engine-specific result (e.g. the GX validation JSON)';
COMMENT ON COLUMN recon.check_results.created_at IS 'When the result was stored';

COMMENT ON TABLE recon.action_log IS 'Every state-changing console action: who, when, what, on which target, and what the API answered';
COMMENT ON COLUMN recon.action_log.id IS 'Row id';
COMMENT ON COLUMN recon.action_log.at IS 'When the action was taken';
COMMENT ON COLUMN recon.action_log.operator IS 'The signed-in operator';
COMMENT ON COLUMN recon.action_log.action IS 'What was done (pause, retry_intent, approve, ...)';
COMMENT ON COLUMN recon.action_log.target IS 'The id acted on (intent, batch, delivery, program)';
COMMENT ON COLUMN recon.action_log.request IS 'The request sent to the admin API (no secrets)';
COMMENT ON COLUMN recon.action_log.result IS 'ok or failed';
COMMENT ON COLUMN recon.action_log.status_code IS 'The admin API''s HTTP status';
COMMENT ON COLUMN recon.action_log.response IS 'The admin API''s answer';
COMMENT ON COLUMN recon.action_log.error IS 'Why it failed, when it failed';

COMMENT ON TABLE recon.job_runs IS 'Scheduled job runs; UNIQUE (job, scheduled_for) makes a slot run once across schedulers';
COMMENT ON COLUMN recon.job_runs.id IS 'Row id';
COMMENT ON COLUMN recon.job_runs.job IS 'monitor, daily_reconciliation, weekly_payout_reminder or monthly_audit_export';
COMMENT ON COLUMN recon.job_runs.scheduled_for IS 'The slot this run is for (UTC)';
COMMENT ON COLUMN recon.job_runs.started_at IS 'When it started';
COMMENT ON COLUMN recon.job_runs.finished_at IS 'When it finished';
COMMENT ON COLUMN recon.job_runs.status IS 'running, succeeded, failed or skipped';
COMMENT ON COLUMN recon.job_runs.error IS 'Why it failed or was skipped';
COMMENT ON COLUMN recon.job_runs.details IS 'What it did (JSON: checks run, incidents, alerts sent, periods exported)';
COMMENT ON COLUMN recon.job_runs.host IS 'The scheduler host that ran it';

COMMENT ON TABLE recon.incidents IS 'Incidents opened by the alert rules: one open incident per (kind, key)';
COMMENT ON COLUMN recon.incidents.id IS 'Incident id (PagerDuty dedup_key; console /incidents?id=<id>)';
COMMENT ON COLUMN recon.incidents.kind IS 'ledger_imbalance, ledger_tamper, worker_down, queue_depth, stuck_intents, webhook_exhausted or webhook_endpoint_failing';
COMMENT ON COLUMN recon.incidents.key IS 'What it is about within its kind (e.g. program/currency)';
COMMENT ON COLUMN recon.incidents.priority IS 'P0..P3';
COMMENT ON COLUMN recon.incidents.status IS 'open, acknowledged or resolved';
COMMENT ON COLUMN recon.incidents.title IS 'One line: what happened';
COMMENT ON COLUMN recon.incidents.details IS 'Facts as JSON: where, ids, money per currency (details->money), first steps';
COMMENT ON COLUMN recon.incidents.money_at_stake IS 'Amount at stake when in one currency; NULL when none or several currencies (see details->money)';
COMMENT ON COLUMN recon.incidents.opened_at IS 'When it opened';
COMMENT ON COLUMN recon.incidents.last_seen_at IS 'When the rules last found it';
COMMENT ON COLUMN recon.incidents.last_notified_at IS 'When the last message (opening or reminder) was queued';
COMMENT ON COLUMN recon.incidents.acknowledged_at IS 'When somebody acknowledged it (no more reminders)';
COMMENT ON COLUMN recon.incidents.acknowledged_by IS 'Who acknowledged it';
COMMENT ON COLUMN recon.incidents.resolved_at IS 'When the finding was gone';
COMMENT ON COLUMN recon.incidents.notes IS 'Operators'' notes';
COMMENT ON COLUMN recon.incidents.check_run_id IS 'The check run that opened it, if any';

COMMENT ON TABLE recon.alert_deliveries IS 'Alert messages queued per channel, sent with retries and back-off (payloads hold no secrets)';
COMMENT ON COLUMN recon.alert_deliveries.id IS 'Row id';
COMMENT ON COLUMN recon.alert_deliveries.incident_id IS 'The incident it is about; NULL for notices (weekly payout reminder)';
COMMENT ON COLUMN recon.alert_deliveries.channel IS 'slack, discord, pagerduty or webhook';
COMMENT ON COLUMN recon.alert_deliveries.event IS 'open, reminder, resolve or payout_reminder';
COMMENT ON COLUMN recon.alert_deliveries.payload IS 'The channel''s JSON payload (secrets such as the PagerDuty routing key are added when sending)';
COMMENT ON COLUMN recon.alert_deliveries.status IS 'pending, sent or failed (given up after 24 h)';
COMMENT ON COLUMN recon.alert_deliveries.attempts IS 'Failed attempts so far';
COMMENT ON COLUMN recon.alert_deliveries.last_error IS 'The last failure (never the URL or a key)';
COMMENT ON COLUMN recon.alert_deliveries.created_at IS 'When it was queued';
COMMENT ON COLUMN recon.alert_deliveries.sent_at IS 'When the channel accepted it';
COMMENT ON COLUMN recon.alert_deliveries.next_attempt_at IS 'When the next attempt is due (back-off 1, 2, 4 … 60 min)';

COMMENT ON TABLE recon.runbook_ticks IS 'Runbook checklist items ticked in the console, per day and operator';
COMMENT ON COLUMN recon.runbook_ticks.day IS 'The day (UTC) of the checklist';
COMMENT ON COLUMN recon.runbook_ticks.operator IS 'Who ticked it';
COMMENT ON COLUMN recon.runbook_ticks.item IS 'The checklist item';
COMMENT ON COLUMN recon.runbook_ticks.ticked_at IS 'When it was ticked';

COMMENT ON TABLE recon.metric_samples IS 'Per-minute samples of the core metrics for the console''s trends (kept 90 days)';
COMMENT ON COLUMN recon.metric_samples.sampled_at IS 'When it was sampled';
COMMENT ON COLUMN recon.metric_samples.metric IS 'Metric name (docs/metrics.md)';
COMMENT ON COLUMN recon.metric_samples.labels IS 'Its labels as JSON';
COMMENT ON COLUMN recon.metric_samples.value IS 'Its value';

COMMENT ON TABLE recon.simulations IS 'Every `sge-recon simulate` load (`--reset` only erases what a simulation loaded)';
COMMENT ON COLUMN recon.simulations.id IS 'Row id';
COMMENT ON COLUMN recon.simulations.loaded_at IS 'When it was loaded';
COMMENT ON COLUMN recon.simulations.seed IS 'Random seed (--seed)';
COMMENT ON COLUMN recon.simulations.intents IS 'Intents loaded (--intents)';
COMMENT ON COLUMN recon.simulations.faults IS 'Faults injected (--faults)';
COMMENT ON COLUMN recon.simulations.as_of IS 'The simulated now (--as-of)';

COMMENT ON TABLE recon.export_runs IS 'Every audit export (DESIGN §8): month, snapshot, folder and the sha256 of its manifest';
COMMENT ON COLUMN recon.export_runs.id IS 'Row id';
COMMENT ON COLUMN recon.export_runs.period IS 'The month exported (YYYY-MM, UTC)';
COMMENT ON COLUMN recon.export_runs.started_at IS 'When it started';
COMMENT ON COLUMN recon.export_runs.finished_at IS 'When it finished';
COMMENT ON COLUMN recon.export_runs.status IS 'succeeded or failed';
COMMENT ON COLUMN recon.export_runs.trigger IS 'cli, scheduler, console or bench';
COMMENT ON COLUMN recon.export_runs.directory IS 'Where it was written';
COMMENT ON COLUMN recon.export_runs.snapshot IS 'The PostgreSQL snapshot all tables were read in';
COMMENT ON COLUMN recon.export_runs.total_rows IS 'Rows exported, all tables';
COMMENT ON COLUMN recon.export_runs.total_bytes IS 'Bytes written, all files';
COMMENT ON COLUMN recon.export_runs.manifest_sha256 IS 'sha256 of manifest.json (compare with the folder an auditor holds)';
COMMENT ON COLUMN recon.export_runs.replaced IS 'Where --force moved the earlier version';
COMMENT ON COLUMN recon.export_runs.error IS 'Why it failed';

COMMENT ON TABLE recon.ledger_checkpoint IS 'Incremental reconciliation: the ledger totals are checkpointed up to an id watermark (one row)';
COMMENT ON COLUMN recon.ledger_checkpoint.singleton IS 'Always true: the table has one row';
COMMENT ON COLUMN recon.ledger_checkpoint.watermark IS 'Every ledger entry with id <= watermark is counted in the checkpoint';
COMMENT ON COLUMN recon.ledger_checkpoint.entries IS 'Entries counted up to the watermark';
COMMENT ON COLUMN recon.ledger_checkpoint.advanced_at IS 'When the watermark last moved';
COMMENT ON COLUMN recon.ledger_checkpoint.pending_watermark IS 'A sequence value read at pending_at, the next watermark once the transactions then running ended';
COMMENT ON COLUMN recon.ledger_checkpoint.pending_vxids IS 'Transactions running at pending_at';
COMMENT ON COLUMN recon.ledger_checkpoint.pending_xmax IS 'First transaction id not yet assigned at pending_at';
COMMENT ON COLUMN recon.ledger_checkpoint.pending_at IS 'When pending_watermark was read';
COMMENT ON COLUMN recon.ledger_checkpoint.rebased_at IS 'Last time the totals were rebuilt in full';
COMMENT ON COLUMN recon.ledger_checkpoint.rebase_reason IS 'Why (sge-recon check --rebase-checkpoint "reason")';

COMMENT ON TABLE recon.ledger_checkpoint_totals IS 'Per program and currency, the totals of the ledger entries with id <= watermark';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.program_id IS 'Program';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.currency IS 'Currency';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.total_debits IS 'Sum of debit amounts';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.total_credits IS 'Sum of credit amounts';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.entries IS 'Entries counted';
COMMENT ON COLUMN recon.ledger_checkpoint_totals.fingerprint IS 'Order-independent sum of recon.ledger_row_hash over the counted rows (tamper detection)';

COMMENT ON TABLE recon.ledger_checkpoint_unbalanced IS 'transaction_balance''s failing rows over the entries with id <= watermark';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.transaction_id IS 'Transaction';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.program_id IS 'Program';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.currency IS 'Currency';
COMMENT ON COLUMN recon.ledger_checkpoint_unbalanced.difference IS 'Debits minus credits of the transaction in that currency';
