"""The invariant checker: what must hold after any fault scenario, checked on the real database.

`assert_invariants(url)` runs the whole §5 catalogue through `Recon.checks.run()` (not stored, so
the check runs it makes do not change what a scenario measures) and, beside it, the money rules
that no fault may break, each with a plain SQL query written here independently of the product:

- every ledger journal transaction balances (per currency);
- no payout twice: at most one payout journal transaction per batch, every paid commission belongs
  to an executed batch, and no affiliate's ledger credit for a batch exceeds its commissions;
- no duplicate ledger entries for an intent: a settled intent has exactly one settlement and one
  settlement journal transaction; nothing is written for an intent that is not completed.

A scenario that is expected to trip some checks (e.g. `worker_status` after workers were killed)
names them in ``expected``; every other check must pass. Tests count what they verified in
``INVARIANT_FIGURES`` (reported by the README table's command).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from refplatform.store import WORKER_LOCK_CLASS
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for

# Checks that measure liveness or time rather than correctness: a scenario that stops workers or
# leaves a queue behind says so explicitly; these are the usual suspects.
LIVENESS_CHECKS = frozenset({"worker_status", "queue_paused", "queue_depth", "processing_time", "stuck_intents"})

INVARIANT_FIGURES: Counter = Counter()


@dataclass
class InvariantReport:
    checks_run: int = 0
    broken: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.broken


def unbalanced_transactions(db: Database) -> list[dict]:
    return db.fetch_all(
        "SELECT transaction_id, currency,"
        " sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference"
        " FROM public.ledger_entries GROUP BY transaction_id, currency"
        " HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0")


def payouts_twice(db: Database) -> list[dict]:
    """Batches paid more than once, in any of the ways a double payout could show."""
    problems = db.fetch_all(
        "SELECT DISTINCT l.transaction_id, b.status FROM public.ledger_entries l"
        " LEFT JOIN public.payout_batches b ON 'txn_payout_' || b.id = l.transaction_id"
        " WHERE l.transaction_id LIKE 'txn\\_payout\\_%' AND b.status IS DISTINCT FROM 'executed'")
    problems += db.fetch_all(
        "SELECT c.id AS commission_id, c.payout_batch_id, b.status"
        " FROM public.commissions c LEFT JOIN public.payout_batches b ON b.id = c.payout_batch_id"
        " WHERE c.status = 'paid' AND (b.id IS NULL OR b.status <> 'executed')")
    # Per batch and affiliate: the payout journal debits affiliate:<id> once, by exactly what the
    # batch's commissions of that affiliate add up to (twice paid = twice the amount).
    problems += db.fetch_all(
        "WITH paid AS (SELECT payout_batch_id AS batch_id, affiliate_id, sum(amount) AS owed"
        "   FROM public.commissions WHERE status = 'paid' GROUP BY 1, 2),"
        " journal AS (SELECT substr(transaction_id, 12) AS batch_id,"
        "   substr(account, 11) AS affiliate_id, sum(amount) AS moved, count(*) AS entries"
        "   FROM public.ledger_entries WHERE transaction_id LIKE 'txn\\_payout\\_%'"
        "   AND type = 'debit' AND account LIKE 'affiliate:%' GROUP BY 1, 2)"
        " SELECT coalesce(p.batch_id, j.batch_id) AS batch_id,"
        "  coalesce(p.affiliate_id, j.affiliate_id) AS affiliate_id, p.owed, j.moved, j.entries"
        " FROM paid p FULL JOIN journal j USING (batch_id, affiliate_id)"
        " WHERE p.owed IS DISTINCT FROM j.moved OR j.entries > 1")
    return problems


def duplicate_intent_entries(db: Database) -> list[dict]:
    """Intents settled or journalled more than once, or with money moved while not completed.

    An intent's money is one settlement journal plus one journal per commission; the same entry
    twice in a journal, a second settlement, or more journals than that is a duplicate."""
    rows = db.fetch_all(
        "SELECT transaction_id, intent_id, account, type, amount, count(*) AS copies"
        " FROM public.ledger_entries WHERE intent_id IS NOT NULL"
        " GROUP BY transaction_id, intent_id, account, type, amount HAVING count(*) > 1")
    rows += db.fetch_all(
        "WITH money AS (SELECT intent_id, count(DISTINCT transaction_id) AS journals"
        "   FROM public.ledger_entries WHERE intent_id IS NOT NULL"
        "   AND transaction_id NOT LIKE 'corr%' GROUP BY intent_id),"
        " settled AS (SELECT intent_id, count(*) AS settlements FROM public.settlements"
        "   GROUP BY intent_id),"
        " earned AS (SELECT intent_id, count(*) AS commissions,"
        "   count(DISTINCT (affiliate_id, level)) AS distinct_commissions"
        "   FROM public.commissions GROUP BY intent_id)"
        " SELECT i.id AS intent_id, i.status, m.journals, s.settlements, e.commissions"
        " FROM public.settlement_intents i"
        " LEFT JOIN money m ON m.intent_id = i.id LEFT JOIN settled s ON s.intent_id = i.id"
        " LEFT JOIN earned e ON e.intent_id = i.id"
        " WHERE s.settlements > 1 OR e.commissions > e.distinct_commissions"
        "  OR m.journals > 1 + coalesce(e.commissions, 0)"
        "  OR (i.status <> 'completed' AND (s.settlements > 0 OR m.journals > 0))")
    return rows


def unrecoverable_intents(db: Database) -> list[dict]:
    """Intents neither completed nor retryable: open but with no job that will ever pick them up.

    `failed` is retryable by the admin API (retry-intent); an open intent needs a waiting,
    delayed or active job (an active job of a dead worker is requeued by the next worker)."""
    # An active job is retryable only if its worker is gone (its liveness lock is free): the job
    # of a live worker that is not working on it any more would never be picked up again.
    return db.fetch_all(
        "SELECT i.id AS intent_id, i.status FROM public.settlement_intents i"
        " WHERE i.status NOT IN ('completed', 'failed') AND NOT EXISTS ("
        "  SELECT 1 FROM public.jobs j WHERE j.intent_id = i.id"
        "  AND (j.status IN ('waiting', 'delayed') OR (j.status = 'active' AND"
        "   (j.worker_id IS NULL OR pg_try_advisory_xact_lock(%s, hashtext(j.worker_id))))))",
        (WORKER_LOCK_CLASS,))


def check_invariants(url: str, *, expected: frozenset[str] | set[str] = frozenset(),
                     settle: bool = False) -> InvariantReport:
    """Everything that must hold; ``expected`` names checks the scenario may legitimately trip.

    ``settle`` adds: every intent is completed or retryable (for scenarios that end with workers
    idle rather than drained)."""
    db = Database(url)
    report = InvariantReport()
    run = Recon(settings_for(url)).checks.run(store=False, trigger="invariants")
    for check in run.checks:
        report.checks_run += 1
        if check.status == "error":
            report.broken.append(f"check {check.name} could not run: {check.error}")
        elif check.status == "unavailable" and check.name == "payout_line_items":
            continue  # the reference platform keeps no payout line items (its profile says so)
        elif check.status != "pass" and check.name not in expected:
            report.broken.append(f"check {check.name} is {check.status}: {check.rows[:3]}")
    rules = {"every ledger transaction balances": unbalanced_transactions,
             "no payout twice": payouts_twice,
             "no duplicate ledger entries for an intent": duplicate_intent_entries}
    if settle:
        rules["every intent completed or retryable"] = unrecoverable_intents
    for rule, query in rules.items():
        report.checks_run += 1
        rows = query(db)
        if rows:
            report.broken.append(f"{rule}: {rows[:3]}")
    return report


def assert_invariants(url: str, **kw) -> InvariantReport:
    """After a scenario: every invariant holds (counted for the README's figures)."""
    report = check_invariants(url, **kw)
    INVARIANT_FIGURES["invariant evaluations"] += report.checks_run
    INVARIANT_FIGURES["invariants broken"] += len(report.broken)
    assert not report.broken, "invariants broken:\n  " + "\n  ".join(report.broken)
    return report
