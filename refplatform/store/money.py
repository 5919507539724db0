"""Money: force-reconcile (the two ledger checks of DESIGN §5, for one program), payouts and
ledger corrections."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, localcontext

from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from sge_recon.errors import ConflictError, NotFoundError
from sge_recon.money import MONEY, money_sum

from .base import Conn, new_id
from .jobs import write_journal

# How long an execute waits for the commissions being written now (a long bulk write would
# otherwise hold the request, and the console's answer, for as long as it runs).
COMMISSIONS_LOCK_TIMEOUT = "5s"


# ---------------------------------------------------------------------------------------------
# reconciliation (force-reconcile): the two ledger checks of DESIGN §5, for one program
# ---------------------------------------------------------------------------------------------
def get_program(conn: Conn, program_id: str) -> dict | None:
    return conn.execute("SELECT * FROM public.programs WHERE id = %s", (program_id,)).fetchone()


def program_balances(conn: Conn, program_id: str) -> list[dict]:
    """Debits and credits per currency of one program (all of them, balanced or not)."""
    return conn.execute(
        "SELECT currency,"
        " coalesce(sum(amount) FILTER (WHERE type = 'debit'), 0) AS total_debits,"
        " coalesce(sum(amount) FILTER (WHERE type = 'credit'), 0) AS total_credits,"
        " count(*) AS entries"
        " FROM public.ledger_entries WHERE program_id = %s GROUP BY currency ORDER BY currency",
        (program_id,)).fetchall()


def program_unbalanced_transactions(conn: Conn, program_id: str, limit: int) -> tuple[int, list[dict]]:
    rows = conn.execute(
        "SELECT transaction_id, program_id, difference, count(*) OVER () AS total FROM ("
        " SELECT transaction_id, program_id,"
        "  sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference"
        " FROM public.ledger_entries WHERE program_id = %s"
        " GROUP BY transaction_id, program_id) t WHERE difference <> 0"
        " ORDER BY abs(difference) DESC, transaction_id LIMIT %s", (program_id, limit)).fetchall()
    total = rows[0]["total"] if rows else 0
    return total, [{k: v for k, v in r.items() if k != "total"} for r in rows]


def record_reconcile_run(conn: Conn, *, run_id: str, program_id: str, started_at: datetime,
                         finished_at: datetime, status: str, results: list[dict]) -> None:
    """Keep a force-reconcile run in the platform's own public.reconcile_runs (never in sge-recon's
    schema: sge-recon records the answer it receives)."""
    conn.execute(
        "INSERT INTO public.reconcile_runs (run_id, program_id, started_at, finished_at, status,"
        " checks) VALUES (%s, %s, %s, %s, %s, %s)",
        (run_id, program_id, started_at, finished_at, status,
         Jsonb(json.loads(json.dumps(results, default=str)))))


# ---------------------------------------------------------------------------------------------
# payouts
# ---------------------------------------------------------------------------------------------
def lock_batch(conn: Conn, batch_id: str) -> dict:
    row = conn.execute("SELECT * FROM public.payout_batches WHERE id = %s FOR UPDATE",
                       (batch_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"payout batch {batch_id} does not exist; check the id "
                            "(the console's Payouts page lists the batches)")
    return row


def approvals(conn: Conn, batch_id: str) -> list[dict]:
    return conn.execute("SELECT approver, approved_at FROM public.payout_approvals"
                        " WHERE batch_id = %s ORDER BY approved_at, approver", (batch_id,)).fetchall()


def same_approver(a: str, b: str) -> bool:
    """Two recorded approvals by the same person: the same config slot, or the same key.

    A slot is a person: its key may be rotated between the two approvals (``approver_1@<old>``
    and ``approver_1@<new>`` are one person, else rotating a key would let one approver give
    both approvals). A key is a person too: moved to the other slot (e.g. on a second API
    instance), ``approver_1@<fp>`` and ``approver_2@<fp>`` are still one. An approval recorded
    before fingerprints (a bare slot) matches its slot."""
    slot_a, _, fp_a = a.rpartition("@") if "@" in a else (a, "", "")
    slot_b, _, fp_b = b.rpartition("@") if "@" in b else (b, "", "")
    return slot_a == slot_b or bool(fp_a and fp_a == fp_b)


def approve_batch(conn: Conn, batch_id: str, approver: str, now: datetime) -> dict:
    """Record one approval; the second distinct approver makes the batch `approved`."""
    batch = lock_batch(conn, batch_id)
    existing = approvals(conn, batch_id)
    same = [a["approver"] for a in existing if same_approver(a["approver"], approver)]
    if same:
        raise ConflictError(f"this approver key has already approved batch {batch_id} (as "
                            f"{same[0]}); the second approval must come from a different key")
    if batch["status"] != "pending_approval":
        raise ConflictError(f"batch {batch_id} is {batch['status']}, not pending_approval; only a "
                            "batch pending approval can be approved")
    conn.execute("INSERT INTO public.payout_approvals (batch_id, approver, approved_at)"
                 " VALUES (%s, %s, %s)", (batch_id, approver, now))
    conn.execute("INSERT INTO public.payout_approval_terms (batch_id, approver, total_amount,"
                 " affiliate_count) VALUES (%s, %s, %s, %s)",
                 (batch_id, approver, batch["total_amount"], batch["affiliate_count"]))
    approvers = sorted({a["approver"] for a in existing} | {approver})
    status = batch["status"]
    distinct: list[str] = []
    for a in approvers:
        if not any(same_approver(a, d) for d in distinct):
            distinct.append(a)
    if len(distinct) >= 2:
        status = "approved"
        conn.execute("UPDATE public.payout_batches SET status = 'approved', approved_at = %s"
                     " WHERE id = %s", (now, batch_id))
    return {"batch_id": batch_id, "status": status, "approvers": approvers,
            "approved_at": now if status == "approved" else None}


def execute_batch(conn: Conn, batch_id: str, now: datetime) -> dict:
    """Pay an approved batch once: per affiliate debit affiliate:<id> / credit treasury, in one
    balanced journal transaction; its commissions become paid; the batch executed.

    Only the batch that was approved is paid: its unpaid commissions must add up exactly to its
    total_amount (numeric compare) for exactly its affiliate_count affiliates, in the currency it
    pays, else 409 and nothing is paid. The commissions table is locked first (SHARE ROW
    EXCLUSIVE: every insert, update or delete of a commission waits, and this waits for those in
    flight), so no commission can join, leave or change the batch between the comparison and the
    payment; the batch row lock alone does not stop an insert naming the batch (no FK)."""
    before = conn.execute("SELECT current_setting('lock_timeout') AS t").fetchone()["t"]
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (COMMISSIONS_LOCK_TIMEOUT,))
    try:
        with conn.transaction():
            conn.execute("LOCK TABLE public.commissions IN SHARE ROW EXCLUSIVE MODE")
    except pg_errors.LockNotAvailable:
        raise ConflictError(f"batch {batch_id} was not executed: commissions are being written "
                            f"right now and did not finish within {COMMISSIONS_LOCK_TIMEOUT}; "
                            "nothing was paid, execute it again in a moment") from None
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (before,))
    batch = lock_batch(conn, batch_id)
    if batch["status"] == "executed":
        raise ConflictError(f"batch {batch_id} was already executed at {batch['executed_at']}; "
                            "it is never paid twice")
    if batch["status"] != "approved":
        raise ConflictError(f"batch {batch_id} is {batch['status']}; it can be executed only once "
                            "two distinct approvers have approved it")
    program = get_program(conn, batch["program_id"])
    lines = conn.execute(
        "SELECT c.affiliate_id, i.currency, sum(c.amount) AS amount, count(*) AS commissions"
        " FROM public.commissions c LEFT JOIN public.settlement_intents i ON i.id = c.intent_id"
        " WHERE c.payout_batch_id = %s AND c.status <> 'paid'"
        " GROUP BY c.affiliate_id, i.currency ORDER BY c.affiliate_id, i.currency",
        (batch_id,)).fetchall()
    # A batch pays in the currency its commissions were earned in (a program settles intents
    # in several currencies, and the simulator batches them per currency); the program's own
    # currency when no commission names one. Commissions of several currencies are refused below.
    earned = sorted({r["currency"] for r in lines if r["currency"] is not None})
    currency = earned[0] if len(earned) == 1 else (program["currency"] if program else "USD")
    # a NaN commission passes `sum(amount) > 0` (and the ledger's CHECK (amount > 0)), and so
    # does an infinite one (a plain numeric column): never paid, never written to the ledger;
    # asked first, as the comparisons below raise on a NaN
    unstated = sorted({r["affiliate_id"] for r in lines if not r["amount"].is_finite()})
    if unstated:
        raise ConflictError(f"batch {batch_id} holds commissions whose amount is not a number "
                            f"(NaN) or infinite (affiliate {', '.join(unstated)}); nothing was "
                            "paid: correct those commissions on the platform "
                            "(platform_data_integrity names them), then execute the batch")
    terms = conn.execute("SELECT approver, total_amount, affiliate_count"
                         " FROM public.payout_approval_terms WHERE batch_id = %s ORDER BY approver",
                         (batch_id,)).fetchall()
    refuse_unlike_approved(batch, lines, currency, terms)
    per_affiliate = [r for r in lines if r["amount"] > 0]
    transaction_id = f"txn_payout_{batch_id}"
    entries: list[tuple[str, str, Decimal, str]] = []
    for row in per_affiliate:
        entries.append((f"affiliate:{row['affiliate_id']}", "debit", row["amount"], currency))
        entries.append(("treasury", "credit", row["amount"], currency))
    if entries:
        write_journal(conn, program_id=batch["program_id"], transaction_id=transaction_id,
                      intent_id=None, entries=entries, now=now)
    paid = conn.execute("UPDATE public.commissions SET status = 'paid' WHERE payout_batch_id = %s"
                        " AND status <> 'paid'", (batch_id,)).rowcount
    conn.execute("UPDATE public.payout_batches SET status = 'executed', executed_at = %s"
                 " WHERE id = %s", (now, batch_id))
    total = money_sum(r["amount"] for r in per_affiliate)
    return {"batch_id": batch_id, "status": "executed", "executed_at": now,
            "transaction_id": transaction_id if entries else None, "affiliates": len(per_affiliate),
            "commissions_paid": paid, "total_paid": total, "currency": currency,
            "batch_total_amount": batch["total_amount"]}


def refuse_unlike_approved(batch: dict, lines: list[dict], currency: str,
                           terms: list[dict]) -> None:
    """409 unless the batch is what its approvers approved: the total and affiliate count each
    approval recorded (``terms``) are still the batch's, and its unpaid commissions (``lines``:
    per affiliate and currency) add up exactly to that total (Decimal compare of PostgreSQL's
    exact sums, no rounding) for exactly that many affiliates, each owed a positive amount, all
    in the currency the batch pays (``currency``)."""
    batch_id = batch["id"]
    problems: list[str] = []
    for t in terms:
        if (t["total_amount"] != batch["total_amount"]
                or t["affiliate_count"] != batch["affiliate_count"]):
            problems.append(f"{t['approver']} approved {t['total_amount']} to "
                            f"{t['affiliate_count']} affiliate(s); the batch now says "
                            f"{batch['total_amount']} to {batch['affiliate_count']}")
    others = sorted({r["currency"] for r in lines
                     if r["currency"] is not None and r["currency"] != currency})
    if others:
        problems.append(f"commissions earned in {', '.join(others)} cannot be paid in {currency}")
    with localcontext(MONEY):
        total = sum((r["amount"] for r in lines), Decimal("0"))
        difference = total - batch["total_amount"]
        owed: dict[str, Decimal] = {}
        for r in lines:
            owed[r["affiliate_id"]] = owed.get(r["affiliate_id"], Decimal("0")) + r["amount"]
    if difference != 0:
        problems.append(f"its unpaid commissions add up to {total}, not the approved total "
                        f"{batch['total_amount']} (a difference of {difference})")
    if len(owed) != batch["affiliate_count"]:
        problems.append(f"its unpaid commissions pay {len(owed)} affiliate(s), not the approved "
                        f"{batch['affiliate_count']}")
    not_owed = sorted(a for a, amount in owed.items() if amount <= 0)
    if not_owed:
        problems.append("affiliate(s) " + ", ".join(not_owed[:5]) + " would be paid nothing or "
                        "a negative amount")
    if problems:
        raise ConflictError(
            f"batch {batch_id} no longer matches what was approved: " + "; ".join(problems) +
            ". Nothing was paid. Check the batch's commissions (the console's Payouts page); a "
            "changed batch needs a new batch and new approvals.")


def create_payout_batch(conn: Conn, program_id: str, now: datetime) -> dict | None:
    """Gather a program's accrued commissions into a new batch pending approval (traffic)."""
    batch_id = new_id("batch")
    rows = conn.execute(
        "UPDATE public.commissions SET status = 'payable', payout_batch_id = %s"
        " WHERE id IN (SELECT id FROM public.commissions WHERE program_id = %s"
        "  AND status = 'accrued' AND payout_batch_id IS NULL FOR UPDATE SKIP LOCKED)"
        " RETURNING affiliate_id, amount", (batch_id, program_id)).fetchall()
    if not rows:
        return None
    total = money_sum(r["amount"] for r in rows)
    affiliates = len({r["affiliate_id"] for r in rows})
    conn.execute("INSERT INTO public.payout_batches (id, program_id, status, affiliate_count,"
                 " total_amount, created_at) VALUES (%s, %s, 'pending_approval', %s, %s, %s)",
                 (batch_id, program_id, affiliates, total, now))
    return {"batch_id": batch_id, "affiliates": affiliates, "total_amount": total}


# ---------------------------------------------------------------------------------------------
# ledger corrections
# ---------------------------------------------------------------------------------------------
def write_correction(conn: Conn, *, program_id: str, reason: str, actor: str,
                     entries: list[tuple[str, str, Decimal, str]], now: datetime,
                     completing: str | None = None, intent_id: str | None = None) -> str:
    """A new correcting transaction, or (``completing``) the missing legs of that transaction;
    the reason is kept in ledger_corrections either way."""
    transaction_id = completing or new_id("corr")
    write_journal(conn, program_id=program_id, transaction_id=transaction_id, intent_id=intent_id,
                  entries=entries, now=now)
    conn.execute("INSERT INTO public.ledger_corrections (transaction_id, program_id, reason, actor,"
                 " entry_count, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
                 " ON CONFLICT (transaction_id) DO UPDATE SET"
                 " reason = ledger_corrections.reason || ' | ' || excluded.reason,"
                 " entry_count = ledger_corrections.entry_count + excluded.entry_count",
                 (transaction_id, program_id, reason, actor, len(entries), now))
    return transaction_id


def lock_request_key(conn: Conn, request_key: str) -> dict | None:
    """The answer already given to this Idempotency-Key, after waiting for any request that is
    writing it now (a transaction-scoped lock on the key: two requests with one key are served
    one after the other, so the second sees the first's row)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                 (f"admin_request_keys:{request_key}",))
    return conn.execute("SELECT operation, request_digest, transaction_id, answer"
                        " FROM public.admin_request_keys WHERE request_key = %s",
                        (request_key,)).fetchone()


def remember_request_key(conn: Conn, *, request_key: str, operation: str, digest: str,
                         transaction_id: str, answer: dict, now: datetime) -> None:
    conn.execute("INSERT INTO public.admin_request_keys (request_key, operation, request_digest,"
                 " transaction_id, answer, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                 (request_key, operation, digest, transaction_id, Jsonb(answer), now))


def transaction_entries_for_update(conn: Conn, transaction_id: str) -> list[dict]:
    """A journal transaction's entries, locked (two corrections of it are serialised).

    A transaction-scoped advisory lock on the transaction id is taken FIRST, in its own
    statement: a second completion waits there, and its SELECT then runs with a snapshot taken
    after the first one committed, so it sees the legs the first one added (and is refused:
    the transaction balances). Row locks alone are not enough: under READ COMMITTED a SELECT
    ... FOR UPDATE that waited for them still reads its older snapshot, which lacks the new
    legs, and both completions were posted."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                 (f"ledger_transaction:{transaction_id}",))
    return conn.execute("SELECT program_id, intent_id, type, amount, currency"
                        " FROM public.ledger_entries WHERE transaction_id = %s ORDER BY id"
                        " FOR UPDATE", (transaction_id,)).fetchall()
