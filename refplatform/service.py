"""What the admin API's endpoints do, independent of HTTP: each method runs one transaction and
returns a JSON-ready dict (camelCase keys, money as decimal strings, a `message` sentence), or
raises NotFoundError (404), ConflictError (409) or UsageError (422).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from refplatform import store
from refplatform.schedules import Clock, utc_now
from sge_recon.config import Settings
from sge_recon.errors import ConflictError, NotFoundError, UsageError
from sge_recon.money import MONEY

LEDGER_CHECKS = ("ledger_balance", "transaction_balance")
SAMPLE_ROWS = 100
# Full matches of ASCII text (re.fullmatch; never `$`, which accepts a trailing newline, nor \d,
# which accepts any Unicode digit). The same rules as the API's body models (api.py).
MONEY_TEXT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")
CURRENCY = re.compile(r"[A-Z][A-Z0-9]{1,11}")
ACCOUNT = re.compile(r"[a-z][a-z0-9_]{0,63}(?::[A-Za-z0-9][A-Za-z0-9_.\-]{0,127})?")
MAX_AMOUNT = Decimal(10) ** 15


def correction_digest(program_id: str, transaction_id: str | None,
                      parsed: list[tuple[str, str, Decimal, str]]) -> str:
    """What an Idempotency-Key stands for: the money of a correction (program, completed
    transaction, entries; amounts compared as numbers, so 5 and 5.00 are the same)."""
    money = [[account, kind, format(amount.normalize(), "f"), currency]
             for account, kind, amount, currency in parsed]
    text = json.dumps([program_id, transaction_id, money], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def replayed_correction(request_key: str, prior: dict, digest: str) -> dict:
    if prior["operation"] != "correction" or prior["request_digest"] != digest:
        raise ConflictError(f"Idempotency-Key {request_key!r} was already used for another "
                            f"request (correction {prior['transaction_id']}); send a new key "
                            "for a new correction")
    first = dict(prior["answer"])
    return {**first, "replayed": True,
            "message": f"Already done for this request (Idempotency-Key): {first['message']} "
                       "Nothing was posted again."}


def jsonable(value: Any) -> Any:
    """Decimals as strings, times as ISO-8601: the API's JSON never carries a float for money."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# Writes the audit row of the call being answered with ``answer`` on the action's connection,
# before its commit (api_audit.CallAudit.write_in): the effect and its audit row commit together.
AuditHook = Callable[[Any, dict], None]


class Action:
    """One state-changing call's transaction: ``conn``, and ``answer`` once it is known."""

    def __init__(self, conn):
        self.conn = conn
        self.answer: dict | None = None

    @property
    def result(self) -> dict:
        assert self.answer is not None, "the block sets answer"
        return self.answer


class PlatformService:
    """Each state-changing method takes ``audit``: given, the call's audit row is written in the
    method's own transaction, just before it commits (never an effect without its row)."""

    def __init__(self, settings: Settings, pool: store.PlatformPool, clock: Clock = utc_now):
        self.settings = settings
        self.pool = pool
        self.clock = clock

    @contextlib.contextmanager
    def _action(self, audit: AuditHook | None) -> Iterator[Action]:
        """The action's transaction; at its end, once the block set ``answer``, the audit row is
        written on the same connection, so a crash before the commit loses both, never one."""
        with self.pool.transaction() as conn:
            act = Action(conn)
            yield act
            if audit is not None and act.answer is not None:
                audit(conn, act.answer)

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict:
        try:
            with self.pool.transaction(timeout=3) as conn:
                store.ping(conn)
        except Exception as exc:  # any failure to reach the DB is "unhealthy", never a crash
            return {"status": "unhealthy", "db": "unreachable", "ok": False,
                    "error": f"the platform database is unreachable ({exc}); check PostgreSQL"}
        return {"status": "ok", "db": "ok", "ok": True}

    # -- reconciliation ---------------------------------------------------------------------------
    def force_reconcile(self, program_id: str, audit: AuditHook | None = None) -> dict:
        started = self.clock()
        run_id = str(uuid.uuid4())
        with self._action(audit) as act:
            conn = act.conn
            program = store.get_program(conn, program_id)
            if program is None:
                raise NotFoundError(f"program {program_id} does not exist; check the programId")
            t0 = time.perf_counter()
            balances = store.program_balances(conn, program_id)
            tolerance = self.settings.LEDGER_TOLERANCE
            # exact at any size; a NaN or infinite total is an imbalance (no comparison of NaN
            # with the tolerance holds: Python's raises)
            # the row's difference is the check's (debits - credits, signed: a ledger short of
            # debits is never answered as one with too many); the tolerance is on its size
            imbalanced = [
                {"program_id": program_id, "currency": b["currency"],
                 "total_debits": b["total_debits"], "total_credits": b["total_credits"],
                 "difference": _difference(b["total_debits"], b["total_credits"])}
                for b in balances
                for off in [_off_by(b["total_debits"], b["total_credits"])]
                if not off.is_finite() or off >= tolerance]
            t1 = time.perf_counter()
            unbalanced_count, unbalanced = store.program_unbalanced_transactions(
                conn, program_id, SAMPLE_ROWS)
            t2 = time.perf_counter()
            results = [
                {"name": "ledger_balance", "priority": "P0", "failing_rows": len(imbalanced),
                 "status": "fail" if imbalanced else "pass", "rows": imbalanced,
                 "duration_ms": round((t1 - t0) * 1000, 3), "details": {"program_id": program_id}},
                {"name": "transaction_balance", "priority": "P0", "failing_rows": unbalanced_count,
                 "status": "fail" if unbalanced_count else "pass", "rows": unbalanced,
                 "duration_ms": round((t2 - t1) * 1000, 3), "details": {"program_id": program_id}},
            ]
            status = "fail" if any(r["status"] == "fail" for r in results) else "pass"
            finished = self.clock()
            store.record_reconcile_run(conn, run_id=run_id, program_id=program_id,
                                       started_at=started, finished_at=finished, status=status,
                                       results=results)
            act.answer = self._reconcile_answer(program_id, run_id, status, started, finished,
                                                balances, imbalanced, unbalanced_count, results)
        return act.result

    @staticmethod
    def _reconcile_answer(program_id, run_id, status, started, finished, balances, imbalanced,
                          unbalanced_count, results) -> dict:
        message = (f"Program {program_id}: ledger balanced ({len(balances)} currencies, "
                   "every transaction balances)." if status == "pass" else
                   f"Program {program_id}: {len(imbalanced)} currency imbalance(s) and "
                   f"{unbalanced_count} unbalanced transaction(s) found.")
        return jsonable({
            "runId": run_id, "programId": program_id, "status": status, "startedAt": started,
            "finishedAt": finished, "message": message,
            "balances": [{"currency": b["currency"], "totalDebits": b["total_debits"],
                          "totalCredits": b["total_credits"],
                          "difference": _difference(b["total_debits"], b["total_credits"]),
                          "entries": b["entries"]} for b in balances],
            "checks": [{"name": r["name"], "status": r["status"], "priority": r["priority"],
                        "failing_rows": r["failing_rows"], "value": None, "rows": r["rows"],
                        "duration_ms": r["duration_ms"], "error": None} for r in results]})

    # -- intents ----------------------------------------------------------------------------------
    def retry_intent(self, intent_id: str, audit: AuditHook | None = None) -> dict:
        now = self.clock()
        stuck_after = timedelta(minutes=self.settings.INTENT_TIMEOUT_MINUTES)
        with self._action(audit) as act:
            conn = act.conn
            intent = store.lock_intent(conn, intent_id)  # serialises concurrent retries
            if intent is None:
                raise NotFoundError(f"intent {intent_id} does not exist; check the intentId")
            status = intent["status"]
            if status == "completed":
                raise ConflictError(f"intent {intent_id} is already completed; only stuck or "
                                          "failed intents can be retried")
            jobs = store.open_jobs(conn, intent_id)
            live = [j for j in jobs if j["status"] == "active" and j["worker_alive"]]
            if live:
                raise ConflictError(f"intent {intent_id} is being processed right now by "
                                    f"worker {live[0]['worker_id']}; wait for it to finish")
            pending = [j for j in jobs if j["status"] != "active"]
            age = now - intent["status_changed_at"]
            if not pending and status != "failed" and age < stuck_after:
                raise ConflictError(
                    f"intent {intent_id} is {status} since {int(age.total_seconds())} s, not stuck "
                    f"yet; it can be retried after {self.settings.INTENT_TIMEOUT_MINUTES} min "
                    "without progress, or once it failed")
            # Jobs of dead workers and duplicates go; exactly one waiting job remains, due now.
            for job in [j for j in jobs if j["status"] == "active"] + pending[1:]:
                store.abandon_job(conn, job["id"], now, "superseded by a manual retry")
            if status == "failed":
                store.reopen_failed_intent(conn, intent_id, now)
            if pending:
                job_id, created = pending[0]["id"], False
                store.run_job_now(conn, job_id, now)
            else:
                job_id, created = store.enqueue_job(conn, intent_id, now), True
            message = (f"Intent {intent_id} re-enqueued as job {job_id}." if created else
                       f"Intent {intent_id} already had job {job_id} waiting; it now runs at "
                       "once.")
            act.answer = jsonable({"intentId": intent_id, "jobId": job_id, "created": created,
                                   "previousStatus": status, "message": message})
        return act.result

    # -- queue ------------------------------------------------------------------------------------
    def queue_status(self) -> dict:
        now = self.clock()
        with self.pool.transaction() as conn:
            control = store.queue_control(conn)
            depth = store.queue_depth(conn, now)
            seen = store.workers(conn, now, self.settings.WORKER_DOWN_SECONDS)
        live = sum(1 for w in seen if w["status"] == "live")
        state = "paused" if control["paused"] else "running"
        return jsonable({
            "queue": store.QUEUE, "paused": control["paused"], "changedAt": control["changed_at"],
            "changedBy": control["changed_by"], "depth": depth,
            "workers": [{"workerId": w["worker_id"], "startedAt": w["started_at"],
                         "lastSeenAt": w["last_seen_at"], "jobsCompleted": w["jobs_completed"],
                         "status": w["status"]} for w in seen],
            "message": f"Queue {store.QUEUE} is {state}: {depth['waiting']} waiting, "
                       f"{depth['delayed']} delayed, {depth['active']} active; {live} live "
                       f"worker(s) of {len(seen)} seen in 24 h."})

    def set_paused(self, paused: bool, actor: str, audit: AuditHook | None = None) -> dict:
        now = self.clock()
        with self._action(audit) as act:
            changed = store.set_paused(act.conn, paused=paused, actor=actor, now=now)
            control = store.queue_control(act.conn)
            word = "paused" if paused else "resumed"
            message = (f"Queue {store.QUEUE} {word}: workers " +
                       ("stop taking new jobs." if paused else "take jobs again.")
                       if changed else f"Queue {store.QUEUE} was already "
                                       f"{'paused' if paused else 'running'}; nothing changed.")
            act.answer = jsonable({"queue": store.QUEUE, "paused": control["paused"],
                                   "changed": changed, "changedAt": control["changed_at"],
                                   "changedBy": control["changed_by"], "message": message})
        return act.result

    # -- payouts ----------------------------------------------------------------------------------
    def approve(self, batch_id: str, approver: str, audit: AuditHook | None = None) -> dict:
        now = self.clock()
        with self._action(audit) as act:
            result = store.approve_batch(act.conn, batch_id, approver, now)
            if result["status"] == "approved":
                message = (f"Batch {batch_id} approved by {' and '.join(result['approvers'])}; "
                           "it can now be executed.")
            else:
                message = (f"Approval by {approver} recorded for batch {batch_id}; a second, "
                           "different approver must approve before it can be executed.")
            act.answer = jsonable({"batchId": batch_id, "status": result["status"],
                                   "approvers": result["approvers"],
                                   "approvedAt": result["approved_at"], "message": message})
        return act.result

    def execute(self, batch_id: str, audit: AuditHook | None = None) -> dict:
        now = self.clock()
        with self._action(audit) as act:
            r = store.execute_batch(act.conn, batch_id, now)
            act.answer = jsonable({
                "batchId": batch_id, "status": r["status"], "executedAt": r["executed_at"],
                "transactionId": r["transaction_id"], "affiliates": r["affiliates"],
                "commissionsPaid": r["commissions_paid"], "totalPaid": r["total_paid"],
                "currency": r["currency"],
                "message": f"Batch {batch_id} executed: {r['total_paid']} {r['currency']} paid "
                           f"to {r['affiliates']} affiliate(s), {r['commissions_paid']} "
                           "commission(s) marked paid."})
        return act.result

    # -- webhooks ---------------------------------------------------------------------------------
    def retry_webhook(self, delivery_id: str, audit: AuditHook | None = None) -> dict:
        now = self.clock()
        with self._action(audit) as act:
            r = store.schedule_immediate_attempt(act.conn, delivery_id, now)
            act.answer = jsonable({
                "deliveryId": delivery_id, "status": r["status"],
                "nextRetryAt": r["next_retry_at"], "attemptCount": r["attempt_count"],
                "previousStatus": r["previous_status"],
                "message": f"Delivery {delivery_id} scheduled for an immediate attempt (it was "
                           f"{r['previous_status']}, {r['attempt_count']} attempt(s) so far)."})
        return act.result

    # -- corrections ------------------------------------------------------------------------------
    def correction(self, program_id: str, reason: str, entries: list[dict], actor: str,
                   transaction_id: str | None = None, request_key: str | None = None,
                   audit: AuditHook | None = None) -> dict:
        """A new balanced correcting transaction; or, with ``transaction_id``, the missing legs
        of that unbalanced transaction (they must balance together with its entries).

        ``request_key`` (the Idempotency-Key header): the same key again answers with the first
        answer, marked ``replayed``, and posts nothing; a key once used for other money (another
        program, transaction or entries) is refused (409). The reason is not compared: a second
        admin confirming a request writes another sentence for the same correction."""
        parsed = parse_correction_entries(entries)
        if transaction_id is None:
            check_balanced(parsed)
        digest = correction_digest(program_id, transaction_id, parsed)
        now = self.clock()
        with self._action(audit) as act:
            conn = act.conn
            if request_key is not None:
                prior = store.lock_request_key(conn, request_key)
                if prior is not None:
                    act.answer = replayed_correction(request_key, prior, digest)
                    return act.result
            if store.get_program(conn, program_id) is None:
                raise NotFoundError(f"program {program_id} does not exist; check the programId")
            intent_id = None
            if transaction_id is not None:
                existing = store.transaction_entries_for_update(conn, transaction_id)
                intent_id = _completable(transaction_id, program_id, existing, parsed)
            txn = store.write_correction(conn, program_id=program_id, reason=reason, actor=actor,
                                         entries=parsed, now=now, completing=transaction_id,
                                         intent_id=intent_id)
            what = (f"Transaction {txn} completed" if transaction_id
                    else f"Correction {txn} written")
            answer = jsonable({"transactionId": txn, "programId": program_id,
                               "entries": len(parsed), "reason": reason, "createdAt": now,
                               "completed": bool(transaction_id),
                               "message": f"{what} in program {program_id}: {len(parsed)} "
                                          "entries, balanced per currency."})
            if request_key is not None:
                store.remember_request_key(conn, request_key=request_key, operation="correction",
                                           digest=digest, transaction_id=txn, answer=answer,
                                           now=now)
            act.answer = answer
        return answer

    # -- webhook endpoints (beyond DESIGN §6: the console's disable/enable) --------------------
    def set_endpoint_enabled(self, endpoint_id: str, enabled: bool,
                             audit: AuditHook | None = None) -> dict:
        now = self.clock()
        with self._action(audit) as act:
            r = store.set_endpoint_enabled(act.conn, endpoint_id, enabled, now)
            state = "enabled: deliveries to it resume" if enabled else \
                "disabled: its deliveries wait until it is enabled again"
            act.answer = jsonable({"endpointId": endpoint_id, "enabled": enabled,
                                   "url": r["url"],
                                   "message": f"Webhook endpoint {endpoint_id} {state}."})
        return act.result


def _completable(transaction_id: str, program_id: str, existing: list[dict],
                 parsed: list[tuple[str, str, Decimal, str]]) -> str | None:
    """Check that ``parsed`` completes the unbalanced transaction; its intent id."""
    if not existing:
        raise NotFoundError(f"transaction {transaction_id} has no ledger entries; check the "
                            "transactionId")
    if {e["program_id"] for e in existing} != {program_id}:
        raise ConflictError(f"transaction {transaction_id} is not (only) program {program_id}'s; "
                            "correct each program with its own new transaction")
    special = sorted({str(e["currency"]) for e in existing
                      if e["amount"] is not None and not e["amount"].is_finite()})
    if special:  # NaN + anything is NaN, Infinity + anything finite is Infinity
        raise ConflictError(f"transaction {transaction_id} holds an amount that is not a number "
                            f"(NaN) or infinite in {', '.join(special)}: no correcting entry can "
                            "balance it; fix that entry on the platform first, or post a new "
                            "correcting transaction (without transactionId)")
    before = _signed_totals((e["type"], e["amount"], e["currency"]) for e in existing)
    if not _imbalance(before):
        raise ConflictError(f"transaction {transaction_id} already balances; post a new "
                            "correcting transaction instead (without transactionId)")
    detail = _imbalance(_signed_totals(((k, a, c) for _, k, a, c in parsed), before))
    if detail:
        raise UsageError(f"with these entries transaction {transaction_id} still does not balance "
                         f"({detail}); the entries must make up exactly its difference")
    intents = {e["intent_id"] for e in existing if e["intent_id"]}
    return intents.pop() if len(intents) == 1 else None


def parse_correction_entries(entries: list[dict]) -> list[tuple[str, str, Decimal, str]]:
    if not entries:
        raise UsageError("entries is empty; a correction needs at least one debit and one credit")
    parsed = []
    for n, e in enumerate(entries):
        where = f"entries[{n}]"
        amount_text = e.get("amount")
        if not isinstance(amount_text, str) or not MONEY_TEXT.fullmatch(amount_text):
            shown = amount_text[:40] if isinstance(amount_text, str) else amount_text
            raise UsageError(f"{where}.amount must be a positive decimal string of ASCII digits, "
                             f"below 10^15 with at most 6 decimals, such as \"12.50\" "
                             f"(got {shown!r})")
        account, currency = e.get("account"), e.get("currency")
        if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
            raise UsageError(f"{where}.account must be a ledger account of the platform's grammar "
                             "(ASCII): treasury, user:<id>, affiliate:<id>, ...")
        if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
            raise UsageError(f"{where}.currency must be a currency code of capital ASCII letters "
                             "and digits, such as USD")
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
            raise UsageError(f"{where}.amount is not a number") from None
        if amount <= 0 or amount >= MAX_AMOUNT:
            raise UsageError(f"{where}.amount must be greater than zero and below 10^15 "
                             f"(got {amount_text!r})")
        parsed.append((e["account"], e["type"], amount, e["currency"]))
    return parsed


def check_balanced(entries: list[tuple[str, str, Decimal, str]]) -> None:
    detail = _imbalance(_signed_totals((k, a, c) for _, k, a, c in entries))
    if detail:
        raise UsageError(f"the correction does not balance ({detail}); make debits equal credits "
                         "in each currency")


def _difference(debits: Decimal, credits: Decimal) -> Decimal:
    """Debits − credits, exact; NaN where a total is NaN or both are infinite alike (as
    PostgreSQL's numeric gives it: Python's decimal raises there)."""
    if debits.is_nan() or credits.is_nan() or (debits.is_infinite() and credits.is_infinite()
                                               and debits.is_signed() == credits.is_signed()):
        return Decimal("NaN")
    return MONEY.subtract(debits, credits)


def _off_by(debits: Decimal, credits: Decimal) -> Decimal:
    difference = _difference(debits, credits)
    return difference if difference.is_nan() else MONEY.abs(difference)


def _signed_totals(legs, start: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Debits − credits per currency of (type, amount, currency) legs, added to ``start``."""
    totals = dict(start or {})
    for kind, amount, currency in legs:
        totals[currency] = MONEY.add(totals.get(currency, Decimal(0)),
                                     amount if kind == "debit" else MONEY.minus(amount))
    return totals


def _imbalance(totals: dict[str, Decimal]) -> str:
    """The currencies that do not balance, in words; empty when all do."""
    return ", ".join(f"{c}: debits exceed credits by {format(d, 'f')}" if d > 0 else
                     f"{c}: credits exceed debits by {format(MONEY.minus(d), 'f')}"
                     for c, d in sorted(totals.items()) if d != 0)
