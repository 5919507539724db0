"""Payout batches as the console reads them: the open ones with their approvers, the recent ones,
and one batch with its lines, commissions and approvals. A batch's currency is its
commissions' (BATCH_CURRENCY). Also the batches the weekly payout reminder lists.

The console's functions take an open connection (one transaction per page load or action)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .rows import all_rows

if TYPE_CHECKING:
    from .snapshot import Reader


# One commission's intent (index lookups, never a scan of the intents): the batch detail shows
# every line's currency and flags a batch that mixes currencies. The commission is the first one
# of the batch in the platform's commissions(payout_batch_id) index. The batch is written as a
# range (>= and <=, not =) ordered by the column: with `=` the planner drops the ORDER BY (the
# column is a constant) and may take a sequential scan "until the first match" (the plan guard,
# tests/test_plans.py, caught it; for a recent batch that reads nearly the whole table); with the
# range, only the index gives the order without sorting every match. (It was
# `min(c.intent_id)`, which PostgreSQL turned into a walk of the intent_id index filtered on the
# batch: 1.3 s per batch at 2.7 M commissions, 66 s for the 50 recent batches.)
BATCH_CCY_SQL = """(SELECT i.currency FROM platform.settlement_intents i
                  WHERE i.id = (SELECT c.intent_id FROM platform.commissions c
                                WHERE c.payout_batch_id >= b.id AND c.payout_batch_id <= b.id
                                ORDER BY c.payout_batch_id LIMIT 1))"""


# A batch carries no currency of its own (DESIGN §4): it pays its commissions, each in the
# currency of the intent it was earned on (a program can settle in several currencies); a batch
# without commissions falls back to its program's currency.
BATCH_CURRENCY = f"""coalesce({BATCH_CCY_SQL}, (SELECT p.currency FROM platform.programs p
                                               WHERE p.id = b.program_id))"""


def open_payout_batches(conn) -> list[dict]:
    return all_rows(conn, f"""
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
    return all_rows(conn, f"""
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
    earned on), the commissions it pays and their sum. A cancelled commission is not owed: it is
    no line (the batch's commission list still shows it, as cancelled). ``other_program``: how
    many of them belong to another program than the batch's (a batch pays its own program's)."""
    return all_rows(conn, """
        SELECT c.affiliate_id, a.code AS affiliate_code, i.currency, count(*) AS commissions,
               sum(c.amount) AS amount, array_agg(c.id ORDER BY c.id) AS commission_ids,
               count(*) FILTER (WHERE c.program_id IS DISTINCT FROM b.program_id)
                 AS other_program
        FROM platform.commissions c LEFT JOIN platform.affiliates a ON a.id = c.affiliate_id
        LEFT JOIN platform.settlement_intents i ON i.id = c.intent_id
        LEFT JOIN platform.payout_batches b ON b.id = c.payout_batch_id
        WHERE c.payout_batch_id = %s AND (c.status IS NULL OR c.status <> 'cancelled')
        GROUP BY c.affiliate_id, a.code, i.currency ORDER BY c.affiliate_id, i.currency""",
                (batch_id,))


def payout_batch_items(conn, batch_id: str) -> list[dict]:
    """What the platform itself will pay (or paid) each affiliate in this batch: its payout line
    items (a profile's payout_items, SGE's "Payout"), rejected ones left out, per affiliate. A
    negative line item pays nothing (no transfer takes money back), as in payout_line_items: it
    offsets no other line item of the affiliate. ``elsewhere``: the destinations of its unpaid
    line items that are not the affiliate's wallet (``wallet``), as payout_line_items reads them."""
    return all_rows(conn, """
        SELECT i.affiliate_id, count(*) AS items, sum(greatest(i.amount, 0)) AS amount,
               -- where its unpaid line items send money other than the affiliate's wallet
               array_agg(DISTINCT i.destination) FILTER (
                   WHERE (i.status IS NULL OR i.status IN ('pending', 'executing'))
                     AND i.amount > 0
                     AND lower(i.destination) IS DISTINCT FROM lower(i.affiliate_wallet))
                 AS elsewhere,
               min(i.affiliate_wallet) AS wallet
        FROM platform.payout_items i
        WHERE i.batch_id = %s AND (i.status IS NULL OR i.status <> 'rejected')
        GROUP BY i.affiliate_id ORDER BY i.affiliate_id""", (batch_id,))


def payout_batch_commissions(conn, batch_id: str, limit: int = 2000) -> list[dict]:
    return all_rows(conn, """
        SELECT c.id AS commission_id, c.affiliate_id, c.intent_id, c.level, c.rate,
               c.base_amount, c.amount, i.currency, c.status, c.created_at
        FROM platform.commissions c LEFT JOIN platform.settlement_intents i ON i.id = c.intent_id
        WHERE c.payout_batch_id = %s
        ORDER BY c.affiliate_id, c.id LIMIT %s""", (batch_id, limit))


def payout_approvals(conn, batch_id: str) -> list[dict]:
    return all_rows(conn, "SELECT approver, approved_at FROM platform.payout_approvals "
                      "WHERE batch_id = %s ORDER BY approved_at", (batch_id,))


def reminder_payout_batches(db: Reader, now: datetime) -> list[dict]:
    """The batches the weekly payout reminder lists: waiting for approval or execution, with
    their program's currency and their age at ``now`` (the scheduler's clock)."""
    return db.fetch_all(
        "SELECT b.id AS batch_id, b.program_id, p.currency, b.status, b.affiliate_count, "
        "b.total_amount, b.created_at, b.approved_at, "
        "round(extract(epoch FROM %s - b.created_at) / 3600, 1) AS age_hours "
        "FROM platform.payout_batches b LEFT JOIN platform.programs p ON p.id = b.program_id "
        "WHERE b.status IN ('pending_approval', 'approved') ORDER BY b.created_at, b.id", (now,))


def batch_statuses(conn, batch_ids: list[str]) -> dict[str, str]:
    """The status of each of these batches the platform has (an unknown id is left out)."""
    rows = conn.execute("SELECT id, status FROM platform.payout_batches WHERE id = ANY(%s)",
                        (list(batch_ids),)).fetchall()
    return {r["id"]: r["status"] for r in rows}


def batch_creator(conn, batch_id: str) -> dict | None:
    """Who created a payout batch, as the profile maps it (``created_by``, an extra column of
    payout_batches: the SGE profile maps ``"createdById"``; the contract has no creator). None:
    no such batch. Raises the driver's error when the profile maps no ``created_by``."""
    return conn.execute("SELECT id, created_by FROM platform.payout_batches WHERE id = %s",
                        (batch_id,)).fetchone()
