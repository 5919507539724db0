"""Data access for the ops console: every query the console's pages need, parameterised.

Each function takes an open connection (``conn``), so that a page's data load runs in one
read-only transaction on one connection (one consistent picture, one connect). The console's
library side (``sge_recon.console``) opens the transaction and turns rows into view models.

Hot queries (the Overview's, every refresh) only touch rows in live states, through the partial
indexes of the platform (the reference platform's sql/contract/002_indexes.sql); whole-table aggregates (ledger balances, trends) are
for the drill-down pages, which cache them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg.types.json import Jsonb

# Trends and SLOs live in console_trends.py (module size); the pages keep calling them here.
from .console_trends import (  # noqa: F401
    check_status_counts,
    commission_spot_check,
    intent_latency_slo,
    payout_execution_times,
    payout_slo,
    processing_time_by_hour,
    queue_depth_reconstructed_by_hour,
    queue_depth_samples_by_hour,
    random_settlement_ids,
    rpc_by_hour,
)

LIVE_INTENT_STATUSES = ("payment_pending", "verifying", "processing")


def _all(conn, sql: str, params: Any = None) -> list[dict]:
    return conn.execute(sql, params).fetchall()


def _one(conn, sql: str, params: Any = None) -> dict:
    return conn.execute(sql, params).fetchone() or {}


# -- Overview (its health lights are check results: sge_recon/console/overview.py) ----------------
def workers(conn, down_seconds: int) -> list[dict]:
    return _all(conn, """
        SELECT worker_id, started_at, last_seen_at, jobs_completed,
               extract(epoch FROM now() - last_seen_at)::numeric(20,1) AS silent_seconds,
               (now() - last_seen_at) <= make_interval(secs => %s) AS alive
        FROM platform.worker_heartbeats
        WHERE last_seen_at > now() - interval '24 hours'
        ORDER BY worker_id""", (down_seconds,))


# One commission's intent (index lookups, never a scan of the intents): the batch detail shows
# every line's currency and flags a batch that mixes currencies.
BATCH_CCY_SQL = """(SELECT i.currency FROM platform.settlement_intents i
                  WHERE i.id = (SELECT min(c.intent_id) FROM platform.commissions c
                                WHERE c.payout_batch_id = b.id))"""


def money_by_currency(rows: list[dict]) -> dict:
    """{currency: amount} from rows of (currency, amount); never one sum across currencies."""
    return {r["currency"]: r["amount"] for r in rows if r["amount"] is not None}


# A batch carries no currency of its own (DESIGN §4): it pays its commissions, each in the
# currency of the intent it was earned on (a program can settle in several currencies); a batch
# without commissions falls back to its program's currency.
BATCH_CURRENCY = f"""coalesce({BATCH_CCY_SQL}, (SELECT p.currency FROM platform.programs p
                                               WHERE p.id = b.program_id))"""


def pending_payout_money_by_currency(conn) -> dict:
    return money_by_currency(_all(conn, f"""
        SELECT {BATCH_CURRENCY} AS currency, sum(b.total_amount) AS amount
        FROM platform.payout_batches b
        WHERE b.status IN ('pending_approval', 'approved')
        GROUP BY 1 ORDER BY 1"""))


def pending_payout_summary(conn, sla_hours: int) -> dict:
    return _one(conn, """
        SELECT count(*) AS count,
               count(*) FILTER (WHERE coalesce(approved_at, created_at)
                                      < now() - make_interval(hours => %s)) AS over_sla
        FROM platform.payout_batches WHERE status IN ('pending_approval', 'approved')""",
                (sla_hours,))


def newest_result_age(conn, names: list[str]) -> dict:
    """Seconds since the newest stored result of these checks (None: never stored)."""
    return _one(conn, """
        SELECT extract(epoch FROM now() - max(created_at))::numeric(20,0) AS age_seconds
        FROM recon.check_results WHERE name = ANY(%s)
          AND NOT (coalesce(details, '{}'::jsonb) ? 'program_id')""", (names,))


def unresolved_incidents(conn, limit: int) -> list[dict]:
    """Open, acknowledged and accepted incidents (the Overview ranks them by money at stake)."""
    return _all(conn, """
        SELECT id, kind, key, priority, status, title, details, money_at_stake, opened_at
        FROM recon.incidents WHERE status <> 'resolved'
        ORDER BY priority, opened_at DESC LIMIT %s""", (limit,))


def open_incident_counts(conn) -> list[dict]:
    return _all(conn, """
        SELECT priority, count(*) AS count FROM recon.incidents WHERE status <> 'resolved'
        GROUP BY priority ORDER BY priority""")


# -- Ledger --------------------------------------------------------------------------------------
def ledger_balances(conn) -> list[dict]:
    return _all(conn, """
        SELECT l.program_id, p.name AS program_name, l.currency,
               sum(l.amount) FILTER (WHERE l.type = 'debit') AS total_debits,
               sum(l.amount) FILTER (WHERE l.type = 'credit') AS total_credits,
               sum(CASE WHEN l.type = 'debit' THEN l.amount ELSE -l.amount END) AS difference,
               count(*) AS entries
        FROM platform.ledger_entries l LEFT JOIN platform.programs p ON p.id = l.program_id
        GROUP BY l.program_id, p.name, l.currency ORDER BY l.program_id, l.currency""")


def unbalanced_transactions(conn, program_id: str, currency: str, limit: int) -> list[dict]:
    """Journal transactions of one program/currency whose entries do not balance."""
    return _all(conn, """
        SELECT transaction_id, min(created_at) AS created_at, count(*) AS entries,
               sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference
        FROM platform.ledger_entries WHERE program_id = %s AND currency = %s
        GROUP BY transaction_id
        HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        ORDER BY min(created_at) DESC LIMIT %s""", (program_id, currency, limit))


def transaction_entries(conn, transaction_id: str) -> list[dict]:
    return _all(conn, """
        SELECT id, program_id, transaction_id, intent_id, account, type, amount, currency,
               created_at
        FROM platform.ledger_entries WHERE transaction_id = %s ORDER BY id""", (transaction_id,))


def programs(conn) -> list[dict]:
    return _all(conn, "SELECT id, name, currency FROM platform.programs ORDER BY id")


# -- Intents -------------------------------------------------------------------------------------
def stuck_intents(conn, timeout_minutes: int, limit: int) -> list[dict]:
    return _all(conn, """
        SELECT id AS intent_id, program_id, user_id, amount, currency, status, attempts,
               last_error, status_changed_at,
               extract(epoch FROM now() - status_changed_at)::numeric(20,0) AS stuck_seconds
        FROM platform.settlement_intents
        WHERE status IN ('payment_pending', 'verifying', 'processing')
          AND status_changed_at < now() - make_interval(mins => %s)
        ORDER BY status_changed_at LIMIT %s""", (timeout_minutes, limit))


def intent(conn, intent_id: str) -> dict | None:
    return conn.execute("""
        SELECT id AS intent_id, program_id, user_id, amount, currency, status, idempotency_key,
               attempts, last_error, created_at, status_changed_at, completed_at
        FROM platform.settlement_intents WHERE id = %s""", (intent_id,)).fetchone()


def intent_jobs(conn, intent_id: str) -> list[dict]:
    return _all(conn, """
        SELECT id, status, attempts, run_at, created_at, started_at, finished_at, last_error
        FROM platform.jobs WHERE intent_id = %s ORDER BY id DESC LIMIT 50""", (intent_id,))


def intent_settlement(conn, intent_id: str) -> dict | None:
    return conn.execute("""
        SELECT id, tx_hash, block_number, amount, confirmed_at FROM platform.settlements
        WHERE intent_id = %s""", (intent_id,)).fetchone()


def intent_entries(conn, intent_id: str) -> list[dict]:
    return _all(conn, """
        SELECT transaction_id, account, type, amount, currency, created_at
        FROM platform.ledger_entries WHERE intent_id = %s ORDER BY id LIMIT 100""", (intent_id,))


# -- Payouts -------------------------------------------------------------------------------------
def open_payout_batches(conn) -> list[dict]:
    return _all(conn, f"""
        SELECT b.id AS batch_id, b.program_id, b.status, b.affiliate_count, b.total_amount,
               {BATCH_CURRENCY} AS currency,
               b.created_at, b.approved_at,
               extract(epoch FROM now() - coalesce(b.approved_at, b.created_at))::numeric(20,0)
                 AS clock_seconds,
               coalesce(array_agg(a.approver ORDER BY a.approved_at)
                        FILTER (WHERE a.approver IS NOT NULL), '{{}}') AS approvers
        FROM platform.payout_batches b
        LEFT JOIN platform.payout_approvals a ON a.batch_id = b.id
        WHERE b.status IN ('pending_approval', 'approved')
        -- every column named: under a profile payout_batches is a view (no primary key, so
        -- GROUP BY b.id alone does not make the others functionally dependent)
        GROUP BY b.id, b.program_id, b.status, b.affiliate_count, b.total_amount, b.created_at,
                 b.approved_at
        ORDER BY b.created_at""")


def recent_payout_batches(conn, limit: int) -> list[dict]:
    return _all(conn, f"""
        SELECT id AS batch_id, program_id, status, affiliate_count, total_amount,
               {BATCH_CURRENCY} AS currency,
               created_at, approved_at, executed_at
        FROM platform.payout_batches b WHERE status NOT IN ('pending_approval', 'approved')
        ORDER BY coalesce(executed_at, approved_at, created_at) DESC LIMIT %s""", (limit,))


def payout_batch(conn, batch_id: str) -> dict | None:
    return conn.execute("""
        SELECT id AS batch_id, program_id, status, affiliate_count, total_amount, created_at,
               approved_at, executed_at FROM platform.payout_batches WHERE id = %s""",
                        (batch_id,)).fetchone()


def payout_batch_detail(conn, batch_id: str) -> dict | None:
    """One batch with its program's currency and its approvers (any status)."""
    return conn.execute(f"""
        SELECT b.id AS batch_id, b.program_id, {BATCH_CURRENCY} AS currency, b.status,
               b.affiliate_count,
               b.total_amount, b.created_at, b.approved_at, b.executed_at,
               coalesce((SELECT array_agg(a.approver ORDER BY a.approved_at)
                         FROM platform.payout_approvals a WHERE a.batch_id = b.id), '{{}}')
                 AS approvers
        FROM platform.payout_batches b WHERE b.id = %s""", (batch_id,)).fetchone()


def payout_batch_lines(conn, batch_id: str) -> list[dict]:
    """The batch's line items: per affiliate and currency (of the intents the commissions were
    earned on), the commissions it pays and their sum."""
    return _all(conn, """
        SELECT c.affiliate_id, a.code AS affiliate_code, i.currency, count(*) AS commissions,
               sum(c.amount) AS amount, array_agg(c.id ORDER BY c.id) AS commission_ids
        FROM platform.commissions c LEFT JOIN platform.affiliates a ON a.id = c.affiliate_id
        LEFT JOIN platform.settlement_intents i ON i.id = c.intent_id
        WHERE c.payout_batch_id = %s
        GROUP BY c.affiliate_id, a.code, i.currency ORDER BY c.affiliate_id, i.currency""",
                (batch_id,))


def payout_batch_commissions(conn, batch_id: str, limit: int = 2000) -> list[dict]:
    return _all(conn, """
        SELECT c.id AS commission_id, c.affiliate_id, c.intent_id, c.level, c.rate,
               c.base_amount, c.amount, i.currency, c.status, c.created_at
        FROM platform.commissions c LEFT JOIN platform.settlement_intents i ON i.id = c.intent_id
        WHERE c.payout_batch_id = %s
        ORDER BY c.affiliate_id, c.id LIMIT %s""", (batch_id, limit))


def payout_approvals(conn, batch_id: str) -> list[dict]:
    return _all(conn, "SELECT approver, approved_at FROM platform.payout_approvals "
                      "WHERE batch_id = %s ORDER BY approved_at", (batch_id,))


# -- Webhooks ------------------------------------------------------------------------------------
def failing_deliveries(conn, limit: int) -> list[dict]:
    return _all(conn, """
        SELECT d.id AS delivery_id, d.endpoint_id, e.url, d.event_type, d.status,
               d.attempt_count, d.last_error, d.last_attempt_at, d.next_retry_at, d.created_at
        FROM platform.webhook_deliveries d LEFT JOIN platform.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status IN ('retry_scheduled', 'failed')
        ORDER BY (d.status = 'failed') DESC, d.next_retry_at NULLS LAST LIMIT %s""", (limit,))


def delivery(conn, delivery_id: str) -> dict | None:
    return conn.execute("""
        SELECT d.id AS delivery_id, d.endpoint_id, e.url, d.event_type, d.status,
               d.attempt_count, d.last_error, d.last_attempt_at, d.next_retry_at, d.created_at,
               d.payload
        FROM platform.webhook_deliveries d
        LEFT JOIN platform.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.id = %s""", (delivery_id,)).fetchone()


def endpoint_health(conn) -> list[dict]:
    """Per endpoint: open failures since its last successful delivery."""
    return _all(conn, """
        WITH last_ok AS (
            SELECT endpoint_id, max(last_attempt_at) AS at FROM platform.webhook_deliveries
            WHERE status = 'delivered' GROUP BY endpoint_id),
        failing AS (
            SELECT d.endpoint_id, sum(d.attempt_count) AS consecutive_failures,
                   min(coalesce(d.created_at, d.last_attempt_at)) AS failing_since,
                   count(*) FILTER (WHERE d.status = 'failed') AS exhausted
            FROM platform.webhook_deliveries d LEFT JOIN last_ok o ON o.endpoint_id = d.endpoint_id
            WHERE d.status IN ('retry_scheduled', 'failed')
              AND (o.at IS NULL OR d.created_at > o.at)
            GROUP BY d.endpoint_id)
        SELECT e.id AS endpoint_id, e.program_id, e.url, e.enabled, e.disabled_at,
               o.at AS last_success_at, coalesce(f.consecutive_failures, 0) AS consecutive_failures,
               f.failing_since, coalesce(f.exhausted, 0) AS exhausted
        FROM platform.webhook_endpoints e
        LEFT JOIN last_ok o ON o.endpoint_id = e.id
        LEFT JOIN failing f ON f.endpoint_id = e.id
        ORDER BY coalesce(f.consecutive_failures, 0) DESC, e.id""")


# -- Queue & workers -----------------------------------------------------------------------------
def queue_depth_by_status(conn) -> list[dict]:
    return _all(conn, """
        SELECT status, count(*) AS jobs FROM platform.jobs WHERE queue = 'settlement'
        GROUP BY status ORDER BY status""")


QUEUE_CONTROL_SQL = ("SELECT queue, paused, changed_at, changed_by FROM platform.queue_control "
                     "WHERE queue = 'settlement'")


def queue_control(conn) -> dict:
    return _one(conn, QUEUE_CONTROL_SQL)


# -- Runbook ticks -------------------------------------------------------------------------------
def ticks(conn, days: list[date], operator: str) -> list[dict]:
    return _all(conn, """
        SELECT day, operator, item, ticked_at FROM recon.runbook_ticks
        WHERE day = ANY(%s) AND operator = %s""", (days, operator))


def ticks_by_anyone(conn, days: list[date]) -> list[dict]:
    return _all(conn, """
        SELECT day, operator, item, ticked_at FROM recon.runbook_ticks WHERE day = ANY(%s)
        ORDER BY ticked_at""", (days,))


def set_tick(conn, day: date, operator: str, item: str, ticked: bool) -> None:
    if ticked:
        conn.execute("""
            INSERT INTO recon.runbook_ticks (day, operator, item) VALUES (%s, %s, %s)
            ON CONFLICT (day, operator, item) DO NOTHING""", (day, operator, item))
    else:
        conn.execute("DELETE FROM recon.runbook_ticks WHERE day = %s AND operator = %s "
                     "AND item = %s", (day, operator, item))


# -- Incidents -----------------------------------------------------------------------------------
INCIDENT_COLUMNS = """id, kind, key, priority, status, title, details, money_at_stake, opened_at,
    last_seen_at, acknowledged_at, acknowledged_by, resolved_at, notes, check_run_id, accepted_at,
    accepted_by, accept_note"""


def incidents(conn, statuses: list[str], limit: int) -> list[dict]:
    return _all(conn, f"""
        SELECT {INCIDENT_COLUMNS} FROM recon.incidents WHERE status = ANY(%s)
        ORDER BY (status = 'resolved'), priority, opened_at DESC LIMIT %s""", (statuses, limit))


def incident_by_id(conn, incident_id: int) -> dict | None:
    return conn.execute(f"SELECT {INCIDENT_COLUMNS} FROM recon.incidents WHERE id = %s",
                        (incident_id,)).fetchone()


def acknowledge_incident(conn, incident_id: int, operator: str) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'acknowledged', acknowledged_at = now(),
               acknowledged_by = %s
        WHERE id = %s AND status = 'open' RETURNING {INCIDENT_COLUMNS}""",
                        (operator, incident_id)).fetchone()


def accept_incident(conn, incident_id: int, operator: str, note: str, line: str) -> dict | None:
    """Accept with a note: no reminders, still unresolved (a passing check resolves it)."""
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'accepted', accepted_at = now(), accepted_by = %s,
               accept_note = %s,
               notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\\n' || %s END
        WHERE id = %s AND status IN ('open', 'acknowledged') RETURNING {INCIDENT_COLUMNS}""",
                        (operator, note, line, line, incident_id)).fetchone()


def resolve_incident(conn, incident_id: int, except_kinds: list[str] | None = None
                     ) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents SET status = 'resolved', resolved_at = now()
        WHERE id = %s AND status <> 'resolved' AND NOT kind = ANY(%s)
        RETURNING {INCIDENT_COLUMNS}""", (incident_id, except_kinds or [])).fetchone()


def append_incident_note(conn, incident_id: int, line: str) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.incidents
        SET notes = CASE WHEN coalesce(notes, '') = '' THEN %s ELSE notes || E'\\n' || %s END
        WHERE id = %s RETURNING {INCIDENT_COLUMNS}""", (line, line, incident_id)).fetchone()


def check_results_of_run(conn, run_id: Any) -> list[dict]:
    return _all(conn, """
        SELECT name, status, priority, failing_rows, value, error, created_at
        FROM recon.check_results WHERE run_id = %s ORDER BY name""", (run_id,))


# -- Action log ----------------------------------------------------------------------------------
def record_action(conn, *, operator: str, action: str, target: str | None,
                  request: dict | None, result: str, status_code: int | None,
                  response: Any, error: str | None) -> dict:
    return conn.execute("""
        INSERT INTO recon.action_log (operator, action, target, request, result, status_code,
                                      response, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id, at, operator, action, target, result, status_code, error""",
                        (operator, action, target, Jsonb(request) if request is not None else None,
                         result, status_code, Jsonb(response) if response is not None else None,
                         error)).fetchone()


def last_ok_action(conn, actions: list[str], target: str) -> dict | None:
    """The newest successful console action of these kinds on ``target`` (who did it)."""
    return conn.execute("""
        SELECT id, at, operator, action FROM recon.action_log
        WHERE action = ANY(%s) AND target = %s AND result = 'ok'
        ORDER BY at DESC, id DESC LIMIT 1""", (actions, target)).fetchone()


def last_ok_actions_on(conn, action: str, targets: list[str]) -> dict[str, dict]:
    """Per target: the newest successful console action of this kind (who, when)."""
    rows = conn.execute("""
        SELECT DISTINCT ON (target) target, id, at, operator FROM recon.action_log
        WHERE action = %s AND target = ANY(%s) AND result = 'ok'
        ORDER BY target, at DESC, id DESC""", (action, targets)).fetchall()
    return {r["target"]: r for r in rows}


def recent_actions(conn, limit: int, target: str | None = None) -> list[dict]:
    return _all(conn, """
        SELECT id, at, operator, action, target, result, status_code, error
        FROM recon.action_log WHERE %(target)s::text IS NULL OR target = %(target)s
        ORDER BY at DESC, id DESC LIMIT %(limit)s""", {"target": target, "limit": limit})
