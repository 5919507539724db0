"""The console Overview's live reads (every refresh): queue, workers, stuck intents, pending
payouts, failing webhooks, the newest stored results and the open incidents.

Each function takes an open connection (``conn``), so that a page's data load runs in one
read-only transaction on one connection (one consistent picture, one connect). The console's
library side (``sge_recon.console``) opens the transaction and turns rows into view models. These
queries only touch rows in live states, through the partial indexes of the platform (the reference
platform's sql/contract/002_indexes.sql). The other pages read their domain's module: ledger.py,
intents.py, payouts.py, webhooks.py, jobs.py, incidents.py, runbook.py, action_log.py, trends.py.
"""

from __future__ import annotations

from .payouts import BATCH_CURRENCY
from .rows import all_rows as _all
from .rows import one_row as _one


# -- Overview (its health lights are check results: sge_recon/console/overview.py) ----------------
def worker_heartbeats(conn) -> list[dict]:
    """The workers seen in the last 24 h, for display. Whether one is alive or down is the check
    worker_status's row for it (sge_recon.console.verdicts), never decided here."""
    return _all(conn, """
        SELECT worker_id, started_at, last_seen_at, jobs_completed,
               extract(epoch FROM now() - last_seen_at)::numeric(20,1) AS silent_seconds
        FROM platform.worker_heartbeats
        WHERE last_seen_at > now() - interval '24 hours'
        ORDER BY worker_id""")




def money_by_currency(rows: list[dict]) -> dict:
    """{currency: amount} from rows of (currency, amount); never one sum across currencies."""
    return {r["currency"]: r["amount"] for r in rows if r["amount"] is not None}




# a batch total that is no amount (numeric 'NaN', or an infinity in a plain numeric column)
_STATED = "b.total_amount NOT IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)"


def pending_payout_money_by_currency(conn) -> dict:
    """The waiting batches' totals per currency, the stated ones only: one NaN total made its
    currency's whole sum NaN and hid what the others wait to be paid (counted apart:
    pending_payout_summary's ``unstated``)."""
    return money_by_currency(_all(conn, f"""
        SELECT {BATCH_CURRENCY} AS currency, sum(b.total_amount) FILTER (WHERE {_STATED}) AS amount
        FROM platform.payout_batches b
        WHERE b.status IN ('pending_approval', 'approved')
        GROUP BY 1 ORDER BY 1"""))


def pending_payout_summary(conn) -> dict:
    """How many batches wait (for approval or execution), and how many of them have a total
    that is no amount (``unstated``: NaN or infinite). Which are past the SLA is the check
    payout_batch_sla's answer (sge_recon.console.overview), never counted here."""
    return _one(conn, f"""
        SELECT count(*) AS count, count(*) FILTER (WHERE NOT {_STATED}) AS unstated
        FROM platform.payout_batches b WHERE b.status IN ('pending_approval', 'approved')""")


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


