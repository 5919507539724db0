"""Corrections an accountant would trust (issue 15): the console proposes the correcting entries
from the offending transaction, shows what they do to the balances before anything is posted
(a dry run), picks accounts from those the ledger has (or the suspense account), and a
correction over CORRECTION_SECOND_PERSON_OVER waits for a second admin — counting with it what
the same admin posted alone in the last 24 hours (correction_window.py), so splitting one
correction into several small ones does not skip the second admin.

A one-sided error (a lone debit, a missing credit) is fixed by completing the transaction: its
missing leg is posted against the suspense account, so the transaction and the program balance
and the unexplained amount stays visible on one account until finance clears it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import timezone
from decimal import Decimal
from typing import Any, Callable

from ..db import DriverError, ledger
from ..db import corrections as store
from ..errors import DatabaseUnavailable, UsageError, first_line
from .actions import (ActionOutcome, ActionService, CorrectionEntry, parse_correction_entries,
                      require_operator)
from ..money import MONEY
from .action_record import change_and_record
from .correction_window import WINDOW_HOURS, OverWindow, SecondPerson, moved, second_person
from .journal import signed_totals


def correction_content(program_id: str, reason: str, entries: list[CorrectionEntry],
                       transaction_id: str | None) -> str:
    """SHA-256 (hex) of what a direct correction posts: the same program, transaction, reason
    and entries in the same order (5 and 5.00 are the same amount, as for the platform's
    Idempotency-Key) are the same correction; a changed amount or reason is another."""
    legs = [[e.account, e.type, format(e.amount.normalize(), "f"), e.currency] for e in entries]
    what = json.dumps([program_id, transaction_id, reason, legs], separators=(",", ":"))
    return hashlib.sha256(what.encode()).hexdigest()


def request_row_key(row: dict) -> str:
    """The Idempotency-Key of a waiting request: its id and the moment it was recorded."""
    return f"recon-correction-request-{row['id']}-{row['requested_at'].timestamp():.6f}"


@dataclass(frozen=True)
class DryRunLine:
    scope: str          # "transaction <id>" or "program <id>"
    currency: str
    before: Decimal     # debits − credits
    after: Decimal

    @property
    def balanced_after(self) -> bool:
        return self.after == 0


@dataclass
class Proposal:
    program_id: str
    transaction_id: str
    entries: list[CorrectionEntry]
    off: dict[str, Decimal]                         # the transaction's debits − credits now
    reason: str = ""


def propose(transaction_id: str, entries: list[dict], suspense: str) -> Proposal:
    """The missing legs of an unbalanced transaction, against the suspense account."""
    if not entries:
        raise UsageError(f"no ledger entries with transaction id {transaction_id!r}; pick an "
                         "unbalanced transaction from the Ledger page")
    programs = sorted({e["program_id"] for e in entries})
    if len(programs) != 1:
        raise UsageError(f"transaction {transaction_id} spans programs {', '.join(programs)}; "
                         "correct each program with its own new transaction")
    off = {c: d for c, d in signed_totals(entries).items() if d != 0}
    # a NaN, or an infinity (a plain numeric column holds one): no leg of any amount balances it
    unstated = sorted(c for c, d in off.items() if d.is_nan())
    infinite = sorted(c for c, d in off.items() if d.is_infinite())
    if unstated or infinite:
        what = " and ".join(
            ([f"an amount that is not a number (NaN) in {', '.join(unstated)}"] if unstated
             else []) + ([f"an infinite difference in {', '.join(infinite)}"] if infinite
                         else []))
        raise UsageError(f"transaction {transaction_id} has {what}; its missing leg cannot be "
                         "computed: fix that entry on the platform first")
    if not off:
        raise UsageError(f"transaction {transaction_id} balances in every currency; there is "
                         "nothing to complete")
    if "" in off:
        raise UsageError(f"transaction {transaction_id} has entries without a currency; fix "
                         "those on the platform first")
    legs = [CorrectionEntry(suspense, "credit" if d > 0 else "debit", _readable(MONEY.abs(d)), c)
            for c, d in sorted(off.items())]
    reason = (f"Complete unbalanced transaction {transaction_id}: the missing "
              + " and ".join(f"{leg.type} of {leg.amount} {leg.currency}" for leg in legs)
              + f" held on {suspense} until explained")
    return Proposal(programs[0], transaction_id, legs, off, reason)


def _readable(amount: Decimal) -> Decimal:
    """The same amount without trailing zeros past the cents (100.000000 -> 100.00)."""
    cents = MONEY.quantize(amount, Decimal("0.01"))  # 32 integer digits: past 28, exact
    return cents if cents == amount else Decimal(format(MONEY.normalize(amount), "f"))


def dry_run(proposal_off: dict[str, Decimal] | None, transaction_id: str | None,
            program_id: str, program_totals: list[dict],
            entries: list[CorrectionEntry]) -> list[DryRunLine]:
    """Debits − credits before and after the entries: of the transaction they complete (if any)
    and of the program, per currency."""
    delta = signed_totals([vars(e) for e in entries])
    lines = []
    if transaction_id is not None:
        before = dict(proposal_off or {})
        for c in sorted(set(before) | set(delta)):
            lines.append(DryRunLine(f"transaction {transaction_id}", c,
                                    before.get(c, Decimal(0)),
                                    MONEY.add(before.get(c, Decimal(0)),
                                              delta.get(c, Decimal(0)))))
    totals = {r["currency"] or "": r["difference"] for r in program_totals}
    for c in sorted(set(totals) | set(delta)):
        lines.append(DryRunLine(f"program {program_id}", c, totals.get(c, Decimal(0)),
                                MONEY.add(totals.get(c, Decimal(0)), delta.get(c, Decimal(0)))))
    return lines


def check_accounts(entries: list[CorrectionEntry], known: list[str], suspense: str) -> None:
    """Every account must be one the program's ledger has, or the suspense account: a
    misspelled account would otherwise open a new one silently."""
    allowed = set(known) | {suspense}
    for n, e in enumerate(entries, start=1):
        if e.account not in allowed:
            close = difflib.get_close_matches(e.account, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"entry {n}: account {e.account!r} has no entries in this "
                             f"program's ledger{hint} (pick one from the list, or "
                             f"{suspense} for an amount still to be explained)")


def needs_second_person(entries: list[CorrectionEntry], threshold: Decimal) -> bool:
    """Whether the correction moves more than ``threshold`` in any one currency: its debits, or
    its credits, added up per currency (exactly). Never entry by entry: 5,400 split into six
    legs of 900 is a correction of 5,400, and would otherwise skip the second admin. (The
    desk also counts what the same admin posted alone in the last 24 hours: second_person.)"""
    return any(total > threshold for total in moved(entries).values())


class CorrectionDesk:
    """What the Ledger page's correction form calls."""

    def __init__(self, settings, read_platform: Callable, read: Callable,
                 actions: ActionService, db):
        self.settings, self._read_platform, self._read = settings, read_platform, read
        self.actions, self._db = actions, db

    @property
    def suspense(self) -> str:
        return self.settings.SUSPENSE_ACCOUNT

    def accounts(self, program_id: str) -> list[str]:
        known = self._read_platform(lambda c: store.known_accounts(c, program_id))
        return sorted(set(known) | {self.suspense})

    def propose(self, transaction_id: str) -> Proposal:
        transaction_id = (transaction_id or "").strip()
        if not transaction_id:
            raise UsageError("type or pick the unbalanced transaction to complete")
        entries = self._read_platform(lambda c: ledger.transaction_entries(c, transaction_id))
        return propose(transaction_id, entries, self.suspense)

    def preview(self, program_id: str, rows: list[dict[str, Any]],
                transaction_id: str | None = None,
                operator: str | None = None) -> tuple[list[CorrectionEntry],
                                                      list[DryRunLine], SecondPerson]:
        """Validate the form (balanced, with the transaction it completes; known accounts) and
        return the entries, the dry run and whether a second admin must confirm (truthy; its
        ``message`` says why): over the threshold on its own or, for ``operator``, with what
        they posted alone in the last 24 hours (submit decides again, under a lock)."""
        parsed, off = self._validated(program_id, rows, transaction_id)
        totals = self._read_platform(lambda c: store.program_totals(c, program_id))
        lines = dry_run(off, transaction_id, program_id, totals, parsed)
        return parsed, lines, self.second_person_for(parsed, operator)

    def second_person_for(self, parsed: list[CorrectionEntry],
                      operator: str | None = None) -> SecondPerson:
        """Whether ``operator``'s correction needs a second admin now (no lock: a preview)."""
        alone: list[dict] = []
        if operator and " ".join(operator.split()):
            name = require_operator(operator)
            alone = self._read(lambda c: store.posted_alone(c, name, WINDOW_HOURS))
        return second_person(parsed, self.settings.CORRECTION_SECOND_PERSON_OVER, alone)

    def _validated(self, program_id: str, rows: list[dict[str, Any]],
                   transaction_id: str | None) -> tuple[list[CorrectionEntry],
                                                        dict[str, Decimal] | None]:
        """The form's entries, checked again at the moment of posting (the ledger may have moved
        since the preview), and the completed transaction's debits − credits."""
        off = None
        if transaction_id:
            entries = self._read_platform(lambda c: ledger.transaction_entries(c, transaction_id))
            if not entries or {e["program_id"] for e in entries} != {program_id}:
                raise UsageError(f"transaction {transaction_id} is not one of program "
                                 f"{program_id}'s; pick it again from the Ledger page")
            off = signed_totals(entries)
        parsed = parse_correction_entries(rows, completing=off)
        check_accounts(parsed, self.accounts(program_id), self.suspense)
        return parsed, off

    def submit(self, operator: str, program_id: str, reason: str, rows: list[dict[str, Any]],
               transaction_id: str | None = None, attempt: str | None = None) -> ActionOutcome:
        """Post now, or — over the threshold — record a request a second admin confirms.

        One Idempotency-Key per intended correction (_post): the same correction sent again by
        the same operator while the first one's outcome is unknown (a lost answer, a second click,
        a page reload or another tab) carries the same key, so the platform posts it once; once
        an answer says what happened, the next identical correction is a new one. ``attempt``:
        no longer used (it was the page's per-session token, which outlived its correction)."""
        operator = require_operator(operator)
        reason = " ".join((reason or "").split())
        if not reason:
            raise UsageError("type the reason for the correction; it is kept with the entry")
        parsed, _ = self._validated(program_id, rows, transaction_id)
        second = second_person(parsed, self.settings.CORRECTION_SECOND_PERSON_OVER)
        if not second:
            try:  # the 24-hour window is read under the admin's lock, just before sending
                return self._post(operator, program_id, reason, parsed, transaction_id)
            except OverWindow as over:  # nothing was recorded as sent, nothing was sent
                second = over.second
        body = {"programId": program_id, "reason": reason,
                "entries": [e.to_json() for e in parsed],
                **({"transactionId": transaction_id} if transaction_id else {})}
        return self._change(operator, "request_correction", transaction_id or program_id,
                            body, lambda conn: self._request(conn, operator, program_id, reason,
                                                             parsed, transaction_id, second))

    def _change(self, operator: str, action: str, target: str, request: dict | None,
                work: Callable[[Any], str]) -> ActionOutcome:
        """An admin's change to the requests: refused and recorded unless the account may
        correct; otherwise the change and its action-log row commit in one transaction."""
        denied = self.actions.refused(operator, "correct", action, target, request)
        return denied or change_and_record(self._db, operator, action, target, request, work)

    def _post(self, operator: str, program_id: str, reason: str, parsed: list[CorrectionEntry],
              transaction_id: str | None) -> ActionOutcome:
        """Send a direct correction with the key of its pending attempt (recon.correction_attempts:
        recorded before sending, kept while the outcome is unknown, cleared by an answer)."""
        content = correction_content(program_id, reason, parsed, transaction_id)
        mine = {"operator": operator, "content_sha256": content}
        try:
            with self._db.transaction() as conn:
                pending = store.claim_attempt(conn, **mine,
                                              fresh_key=f"recon-correction-{uuid.uuid4().hex}",
                                              program_id=program_id,
                                              transaction_id=transaction_id)
        except DriverError as exc:
            raise DatabaseUnavailable(f"the correction could not be recorded before sending, so "
                                      f"nothing was sent ({first_line(exc)})") from None
        key = pending["request_key"]
        threshold = self.settings.CORRECTION_SECOND_PERSON_OVER

        def alone(conn) -> None:
            """Held until this attempt is committed as sent: the same admin's other tab waits
            here, then reads a window with this correction in it."""
            store.lock_window(conn, operator)
            window = store.posted_alone(conn, operator, WINDOW_HOURS, except_key=key)
            decided = second_person(parsed, threshold, window)
            if decided:
                raise OverWindow(decided)
        try:
            outcome = self.actions.ledger_correction(operator, program_id, reason, parsed,
                                                     transaction_id, request_key=key,
                                                     alone=alone)
        except OverWindow:
            if not pending["reused"]:  # this claim was never sent: the next one is new
                try:
                    with self._db.transaction() as conn:
                        store.clear_attempt(conn, **mine, request_key=key)
                except (DatabaseUnavailable, DriverError):
                    pass  # an identical correction sent next reuses the key: posted at most once
            raise
        note = ""
        if pending["reused"]:
            note = (f" Sent with the Idempotency-Key of your unanswered attempt of "
                    f"{pending['started_at'].astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC of this "
                    "same correction, so it is posted at most once.")
        if outcome.maybe_done:
            note += (" Sending this same correction again (even from a reloaded page) reuses "
                     "its Idempotency-Key: it is posted at most once.")
        else:
            try:
                with self._db.transaction() as conn:
                    store.clear_attempt(conn, **mine, request_key=key)
            except (DatabaseUnavailable, DriverError) as exc:
                note += (f" (The attempt could not be cleared: {first_line(exc)}; an identical "
                         "correction sent next is taken for this one.)")
        return replace(outcome, message=outcome.message + note) if note else outcome

    @staticmethod
    def _request(conn, operator, program_id, reason, parsed, transaction_id,
                 second: SecondPerson) -> str:
        row = store.insert_request(conn, program_id=program_id, transaction_id=transaction_id,
                                   reason=reason, entries=[e.to_json() for e in parsed],
                                   requested_by=operator)
        return (f"Correction request #{row['id']} recorded, nothing posted: {second.why}, so a "
                "second admin must confirm it (Ledger page, Corrections waiting) before it is "
                "posted.")

    def pending(self) -> list[dict]:
        return self._read(store.pending_requests)

    def confirm(self, operator: str, request_id: int) -> ActionOutcome:
        """The second admin: posts the request through the admin API (once, even if two
        admins confirm at the same moment); the requester cannot confirm their own."""
        operator = require_operator(operator)
        denied = self.actions.refused(operator, "correct", "ledger_correction",
                                      f"correction:{request_id}", {"requestId": request_id})
        if denied:  # checked before the request is touched: a refusal never marks it failed
            return denied
        with self._db.transaction() as conn:
            row = store.lock_pending(conn, request_id)
            if row is None or row["requested_by"] == operator:
                why = (f"correction request #{request_id} is not waiting (already posted, "
                       "refused or withdrawn); reload the page" if row is None else
                       f"you requested correction #{request_id}; a second admin must confirm "
                       "it (two-person rule)")
                # refused, and the refusal is on the record like any other
                self.actions.refuse(operator, "ledger_correction", f"correction:{request_id}",
                                    {"requestId": request_id}, why)
                raise UsageError(why)
            entries = [CorrectionEntry(e["account"], e["type"], Decimal(e["amount"]),
                                       e["currency"]) for e in row["entries"]]
            # one key per request: whoever confirms it, however often (a lost answer, a
            # dropped database connection before the decision was written), posts it once
            outcome = self.actions.ledger_correction(
                operator, row["program_id"], f"{row['reason']} (requested by "
                f"{row['requested_by']}, confirmed by {operator})", entries,
                row["transaction_id"], request_key=request_row_key(row))
            if outcome.maybe_done:
                # no answer: it may be posted. Leave it waiting; confirming again is safe.
                return replace(outcome, message=outcome.message + " The request stays "
                               "waiting: confirm it again to learn whether it was posted (it "
                               "is posted once at most).")
            store.decide(conn, request_id, status="posted" if outcome.ok else "failed",
                         decided_by=operator, result=outcome.message)
        return outcome

    def withdraw(self, operator: str, request_id: int) -> ActionOutcome:
        def work(conn) -> str:
            if store.lock_pending(conn, request_id) is None:
                raise UsageError(f"correction request #{request_id} is not waiting")
            store.decide(conn, request_id, status="withdrawn", decided_by=operator,
                         result="withdrawn")
            return f"Correction request #{request_id} withdrawn; nothing was posted."
        return self._change(require_operator(operator), "withdraw_correction", str(request_id),
                            {"requestId": request_id}, work)
