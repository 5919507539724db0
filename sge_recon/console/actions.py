"""Console actions: each one calls the admin API (DESIGN §6) and is recorded in recon.action_log.

The outcome says in words what happened — the API's answer on success, its error sentence and
status code on refusal, or that it could not be reached — and an API that is down or refuses is
always recorded as ``failed``, never as success. A request to the admin API (or BullMQ) is
recorded as ``pending`` before it is sent and that row completed with the answer
(action_record.py): a console that dies in between leaves "sent, outcome unknown". Approver
keys pass through to the request and are never stored, logged or echoed: the recorded request
holds only ids and amounts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from ..db import DriverError
from ..db import action_log
from ..db.accounts import approving
from ..db import incidents as incident_rows
from ..db import silences as silence_rows
from ..errors import DatabaseUnavailable, UsageError, first_line
from . import breaker
from .action_record import Attempt, record
from .authority import API_NEEDS, why_refused
from .correction_form import (CorrectionEntry, parse_correction,  # noqa: F401 (re-exported)
                              parse_correction_entries)
from .outcome import ActionOutcome, describe_result, require_operator
from .sge_identity import IDENTIFIED, sge_actor



class ActionService:
    """Runs one action: its action_log row (for a request sent to the admin API or BullMQ:
    written as pending before it is sent, completed with the answer), the outcome in words."""

    def __init__(self, db, client_factory: Callable[[], Any],
                 queue_source: Callable[[], Any] | None = None, dialect: str = "contract"):
        self._db = db
        self.dialect = dialect  # the admin API's: contract (DESIGN §6) or sge (/api/v2)
        self._client_factory = client_factory
        self._queue_source = queue_source or (lambda: None)

    # -- admin API actions ---------------------------------------------------------------------
    def force_reconcile(self, operator: str, program_id: str) -> ActionOutcome:
        """Ask the platform to reconcile one program; the run it answers with is recorded in
        recon.check_runs here (a partial run: DESIGN §5), never by the platform."""
        outcome = self._call(operator, "force_reconcile", program_id, {"programId": program_id},
                             lambda c: c.force_reconcile(program_id))
        if outcome.ok and isinstance(outcome.data, dict):
            from ..checks.service import record_platform_run

            try:
                record_platform_run(self._db, outcome.data)
            except (DatabaseUnavailable, DriverError):
                pass  # the action itself succeeded and is logged; the history misses one run
        return outcome

    def retry_intent(self, operator: str, intent_id: str) -> ActionOutcome:
        return self._call(operator, "retry_intent", intent_id, {"intentId": intent_id},
                          lambda c: c.retry_intent(intent_id))

    def retry_intents(self, operator: str, intent_ids: list[str]) -> ActionOutcome:
        """Retry many (the Queue page's failed jobs): one API call and action-log row each."""
        from .bulk import retry_intents

        return retry_intents(lambda intent_id: self.retry_intent(operator, intent_id), intent_ids)

    def recover_deliveries(self, operator: str, endpoint_id: str | None, since: datetime,
                           until: datetime) -> ActionOutcome:
        """Re-send the failed (and retry-waiting) deliveries created in [since, until)."""
        from .bulk import recover_deliveries

        return recover_deliveries(lambda delivery_id: self.retry_webhook(operator, delivery_id),
                                  self._db, endpoint_id, since, until)

    def disable_endpoint(self, operator: str, endpoint_id: str) -> ActionOutcome:
        return self._call(operator, "disable_endpoint", endpoint_id, {"endpointId": endpoint_id},
                          lambda c: c.disable_endpoint(endpoint_id))

    def enable_endpoint(self, operator: str, endpoint_id: str) -> ActionOutcome:
        return self._call(operator, "enable_endpoint", endpoint_id, {"endpointId": endpoint_id},
                          lambda c: c.enable_endpoint(endpoint_id))

    def pause_queue(self, operator: str) -> ActionOutcome:
        return self._call(operator, "pause_queue", "settlement", None, lambda c: c.pause_queue())

    def resume_queue(self, operator: str) -> ActionOutcome:
        return self._call(operator, "resume_queue", "settlement", None, lambda c: c.resume_queue())

    def approve_batch(self, operator: str, batch_id: str, approver_key: str,
                      slot: int | None = None) -> ActionOutcome:
        """Refused (authority.py) when the account already approved the batch; one approval of
        an account at a time, under its approver lock until the answer is recorded."""
        if self.dialect == "sge":
            # the SGE API has no approver keys: it approves as the account's SGE admin id
            # (X-Admin-Id; refused without one, or when that id created the batch: _call)
            with approving(self._db, require_operator(operator)):
                return self._call(operator, "approve_payout_batch", batch_id,
                                  {"batchId": batch_id}, lambda c: c.approve_batch(batch_id))
        if not (approver_key or "").strip():
            raise UsageError("no approver key for this approval; an approver account uses the "
                             "key it is bound to (sge-recon users add NAME --role approver "
                             "--approver-key 1|2)")
        request = {"batchId": batch_id} if slot is None else {"batchId": batch_id,
                                                              "approverKey": slot}
        with approving(self._db, require_operator(operator)):
            return self._call(operator, "approve_payout_batch", batch_id, request,
                              lambda c: c.approve_batch(batch_id, key=approver_key.strip()),
                              slot=slot)

    def execute_batch(self, operator: str, batch_id: str,
                      changed: Callable[[], str | None] | None = None) -> ActionOutcome:
        """Execute through the admin API — unless the payout circuit breaker holds the batch's
        program (a P0 ledger incident is open): then refused and recorded, with the reason,
        unless a two-person override was confirmed (used once). ``changed``: read at the moment
        of sending, why the batch is no longer what the operator confirmed (refused, recorded),
        or None."""
        operator = require_operator(operator)
        action = "execute_payout_batch"
        request: dict = {"batchId": batch_id}
        refused = self.refused(operator, "execute", action, batch_id, request)
        if refused:
            return refused
        problem = changed() if changed is not None else None
        if problem:
            return self.refuse(operator, action, batch_id, request, problem)
        try:
            with self._db.transaction() as conn:
                gate = breaker.gate_for_execution(conn, batch_id, operator)
                if not gate.open:
                    message = f"Refused: {gate.reason}."
                    row = action_log.record_action(conn, operator=operator, action=action,
                                          target=batch_id,
                                          request={**request, "breaker": gate.request_note()},
                                          result="failed", status_code=None, response=None,
                                          error=message)
                    return ActionOutcome(False, action, batch_id, None, message, logged=True,
                                         log_id=row["id"], at=row["at"])
        except (DatabaseUnavailable, DriverError) as exc:
            message = (f"Refused: the payout circuit breaker could not be checked, so nothing was "
                       f"executed ({first_line(exc)}).")
            return self._record(operator, action, batch_id, request, False, None, None, message,
                                message, None)
        if gate.incidents:
            request = {**request, "breaker": gate.request_note()}
        outcome = self._call(operator, action, batch_id, request,
                             lambda c: c.execute_batch(batch_id))
        if gate.override and not outcome.ok and not outcome.maybe_done:
            return breaker.give_back_override(self._db, gate.override, operator, outcome)
        return outcome

    def request_breaker_override(self, operator: str, batch_id: str,
                                 reason: str) -> ActionOutcome:
        """One admin asks to let one execution of ``batch_id`` through the breaker."""
        def work(conn):
            row = breaker.request_override(conn, operator, batch_id, reason)
            return row, (f"Override #{row['id']} requested for batch {batch_id}; a different "
                         "admin must confirm it before the batch can be executed.")
        return self._breaker_action(operator, "request_breaker_override", batch_id,
                                    {"batchId": batch_id, "reason": " ".join(reason.split())},
                                    work)

    def confirm_breaker_override(self, operator: str, override_id: int) -> ActionOutcome:
        """A second, different admin confirms; the batch may then be executed once."""
        def work(conn):
            row = breaker.confirm_override(conn, operator, int(override_id))
            return row, (f"Override #{row['id']} confirmed: batch {row['batch_id']} may be "
                         f"executed once (requested by {row['requested_by']}: {row['reason']}).")
        return self._breaker_action(operator, "confirm_breaker_override",
                                    f"override:{override_id}", {"overrideId": int(override_id)},
                                    work)

    def _breaker_action(self, operator: str, action: str, target: str, request: dict,
                        work) -> ActionOutcome:
        operator = require_operator(operator)
        refused = self.refused(operator, "execute", action, target, request)
        if refused:
            return refused
        try:
            with self._db.transaction() as conn:
                row, message = work(conn)
                logged = action_log.record_action(conn, operator=operator, action=action, target=target,
                                         request=request, result="ok", status_code=None,
                                         response={"override": int(row["id"])}, error=None)
            return ActionOutcome(True, action, target, None, message, data=row, logged=True,
                                 log_id=logged["id"], at=logged["at"])
        except breaker.BreakerRefused as exc:
            message = f"Refused: {exc.message}."
            return self._record(operator, action, target, request, False, None, None, message,
                                message, None)

    def retry_webhook(self, operator: str, delivery_id: str) -> ActionOutcome:
        return self._call(operator, "retry_webhook", delivery_id, {"deliveryId": delivery_id},
                          lambda c: c.retry_webhook(delivery_id))

    def ledger_correction(self, operator: str, program_id: str, reason: str,
                          entries: list[CorrectionEntry], transaction_id: str | None = None,
                          request_key: str | None = None,
                          alone: Callable[[Any], None] | None = None) -> ActionOutcome:
        """Post a correction: a new balanced transaction, or (``transaction_id``) the missing
        legs of an unbalanced one, which then balances. ``request_key``: the same key again
        (a retry after a timeout) posts it at most once. ``alone``: a direct correction (no
        second admin): its row is marked posted_alone, and ``alone(conn)`` (the 24-hour window's
        lock and check) runs in the transaction that records the attempt, before it is sent."""
        body = {"programId": program_id, "reason": reason,
                "entries": [e.to_json() for e in entries]}
        if transaction_id:
            body["transactionId"] = transaction_id
        return self._call(operator, "ledger_correction", transaction_id or program_id,
                          {**body, "idempotencyKey": request_key} if request_key else body,
                          lambda c: c.ledger_correction(program_id, reason,
                                                        [e.to_json() for e in entries],
                                                        transaction_id=transaction_id,
                                                        request_key=request_key),
                          guard=alone)

    # -- queue actions through BullMQ (the platform has no API for them, e.g. SGE) --------------
    def pause_bullmq_queue(self, operator: str, queue: str) -> ActionOutcome:
        return self._queue_action(operator, "pause_queue", f"bullmq:{queue}", {"queue": queue},
                                  lambda s: s.pause(queue))

    def resume_bullmq_queue(self, operator: str, queue: str) -> ActionOutcome:
        return self._queue_action(operator, "resume_queue", f"bullmq:{queue}", {"queue": queue},
                                  lambda s: s.resume(queue))

    def retry_bullmq_job(self, operator: str, queue: str, job_id: str) -> ActionOutcome:
        return self._queue_action(operator, "retry_job", f"bullmq:{queue}:{job_id}",
                                  {"queue": queue, "jobId": job_id},
                                  lambda s: s.retry(queue, job_id))

    def retry_bullmq_jobs(self, operator: str, queue: str, job_ids: list[str]) -> ActionOutcome:
        """Retry many failed BullMQ jobs: one BullMQ retry and action-log row each."""
        from .bulk import retry_bullmq_jobs

        return retry_bullmq_jobs(lambda job_id: self.retry_bullmq_job(operator, queue, job_id),
                                 queue, job_ids)

    def _queue_action(self, operator: str, action: str, target: str, request: dict,
                      work: Callable[[Any], str]) -> ActionOutcome:
        """Run ``work`` on the platform's queue source (BullMQ) and record it like an API call:
        the sentence BullMQ's answer gives on success, the refusal or outage on failure."""
        from ..queues import QueueUnavailable

        operator = require_operator(operator)
        refused = self.refused(operator, "queue", action, target, request)
        if refused:
            return refused
        source = self._queue_source()
        if source is None:
            raise UsageError("this platform's queues are not on Redis (or REDIS_URL is unset); "
                             "there is no BullMQ queue to act on")
        attempt = Attempt(self._db, operator, action, target)
        unrecorded = attempt.begin(request)  # recorded as sent before it is sent
        if unrecorded:
            return unrecorded  # or not sent at all
        try:
            message, ok, error = f"Done. {work(source)}", True, None
        except QueueUnavailable as exc:
            if exc.maybe_done:  # sent, no answer: the row stays "sent, outcome unknown"
                row = attempt.row or {}
                return ActionOutcome(False, action, target, None,
                                     f"Outcome unknown: {exc.message}", logged=True,
                                     log_id=row.get("id"), at=row.get("at"), maybe_done=True)
            message, ok, error = f"Failed: {exc.message}", False, exc.message
        return attempt.complete(ok, None, {"message": message} if ok else None, error, message,
                                None)

    # -- local actions on recon's own incidents -------------------------------------------------
    def acknowledge_incident(self, operator: str, incident_id: int) -> ActionOutcome:
        return self._local(operator, "acknowledge_incident", incident_id,
                           lambda conn: incident_rows.acknowledge_incident(conn, incident_id, operator),
                           "Acknowledged.", "it is not open (already acknowledged or resolved)")

    def resolve_incident(self, operator: str, incident_id: int) -> ActionOutcome:
        """Only incidents no rule watches may be resolved by hand: the alerting rules' incidents
        resolve by evidence (their check passes), with the duration (issue 19)."""
        from ..alerts.rules import RULES

        return self._local(operator, "resolve_incident", incident_id,
                           lambda conn: incident_rows.resolve_incident(conn, incident_id,
                                                           except_kinds=list(RULES)),
                           "Resolved.", "it is already resolved, or it is resolved by its check "
                           "passing (acknowledge it, or accept it with a note, instead)")

    def accept_incident(self, operator: str, incident_id: int, note: str,
                        now: datetime) -> ActionOutcome:
        """Accept a known fault with a note: no more reminders; it stays unresolved, counted and
        reported, and a passing check still resolves it (with a message)."""
        note = " ".join((note or "").split())
        if not note:
            raise UsageError("accepting an incident needs a note: say why it is known and what "
                             "is awaited (e.g. the correction awaiting finance's sign-off)")
        line = f"{now:%Y-%m-%d %H:%M} UTC {operator} accepted: {note}"
        return self._local(operator, "accept_incident", incident_id,
                           lambda conn: incident_rows.accept_incident(conn, incident_id, operator, note, line),
                           "Accepted: no more reminders; it stays open and reported until a "
                           "check passes.", "it is not open (already accepted or resolved)")

    def add_incident_note(self, operator: str, incident_id: int, note: str,
                          now: datetime) -> ActionOutcome:
        note = " ".join((note or "").split())
        if not note:
            raise UsageError("the note is empty; type what you found or did")
        line = f"{now:%Y-%m-%d %H:%M} UTC {operator}: {note}"
        return self._local(operator, "add_incident_note", incident_id,
                           lambda conn: incident_rows.append_incident_note(conn, incident_id, line),
                           "Note added.", "no such incident")

    # -- silences (issue 19) -------------------------------------------------------------------
    def add_silence(self, operator: str, *, kind: str | None, program_id: str | None,
                    reason: str, owner: str, starts_at: datetime,
                    ends_at: datetime, weekly: tuple[int, Any, int] | None = None,
                    now: datetime | None = None) -> ActionOutcome:
        """Silence matching incidents until ``ends_at``: recorded and counted, not messaged.
        ``weekly`` = (ISO weekday 1..7, start time UTC, minutes): a recurring window, in force
        only then, every week until ``ends_at``. Bounded: silence_actions.py."""
        from .silence_actions import add_silence

        return add_silence(self, operator, kind=kind, program_id=program_id, reason=reason,
                           owner=owner, starts_at=starts_at, ends_at=ends_at, weekly=weekly,
                           now=now)

    def end_silence(self, operator: str, silence_id: int, now: datetime) -> ActionOutcome:
        operator = require_operator(operator)
        target = f"silence:{silence_id}"
        denied = self.refused(operator, "act", "end_silence", target, None)
        if denied:
            return denied
        with self._db.transaction() as conn:
            row = silence_rows.end_silence(conn, int(silence_id), operator, now)
            if row is not None:
                logged = action_log.record_action(conn, operator=operator, action="end_silence",
                                         target=target, request=None, result="ok",
                                         status_code=None, response=None, error=None)
                return ActionOutcome(True, "end_silence", target, None,
                                     f"Silence #{silence_id} ended: messages resume.",
                                     log_id=logged["id"], at=logged["at"])
        message = f"Failed: silence #{silence_id} is not active (unknown, expired or ended)."
        return self._record(operator, "end_silence", target, None, False, None, None, message,
                            message, None)

    # -- other recorded actions (no admin API: recon's own work, e.g. an audit export) ----------
    def run_recorded(self, operator: str, action: str, target: str | None,
                     work: Callable[[], str], need: str = "act") -> ActionOutcome:
        """Run ``work`` (returns a sentence saying what it did) and record it; a ReconError is
        recorded and shown as failed with its message. ``need``: the permission it needs."""
        from ..errors import ReconError

        operator = require_operator(operator)
        denied = self.refused(operator, need, action, target, None)
        if denied:
            return denied
        try:
            message, ok, error = work(), True, None
        except ReconError as exc:
            message, ok, error = f"Failed: {exc.message}", False, exc.message
        return self._record(operator, action, target, None, ok, None, None, error, message, None)

    # -- the mechanics ---------------------------------------------------------------------------
    def refused(self, operator: str, need: str, action: str, target: str | None,
                request: dict | None, slot: int | None = None) -> ActionOutcome | None:
        """None when ``operator`` is an enabled account allowed ``need`` (read now, in the
        database: authority.py); otherwise the refusal, recorded in the action log."""
        why = why_refused(self._db, operator, need, slot, target)
        if why is None:
            return None
        message = f"Refused: {why}; nothing was done."
        return self._record(operator, action, target, request, False, None, None, message,
                            message, None)

    def refuse(self, operator: str, action: str, target: str | None, request: dict | None,
               why: str) -> ActionOutcome:
        """Refuse ``action`` before anything is sent, because ``why``; recorded."""
        message = f"Refused: {why}; nothing was sent."
        return self._record(operator, action, target, request, False, None, None, message,
                            message, None)

    def _call(self, operator: str, action: str, target: str | None, request: dict | None,
              send: Callable[[Any], Any], slot: int | None = None,
              guard: Callable[[Any], None] | None = None) -> ActionOutcome:
        operator = require_operator(operator)
        denied = self.refused(operator, API_NEEDS.get(action, "act"), action, target, request,
                              slot)
        if denied:
            return denied
        # on SGE, the person's SGE admin id is sent as X-Admin-Id (sge_identity.py), or nothing
        actor = sge_actor(self._db, operator, action, target) \
            if self.dialect == "sge" and action in IDENTIFIED else None
        if actor and actor.refusal:
            message = f"Refused: {actor.refusal}; nothing was done."
            return self._record(operator, action, target, request, False, None, None, message,
                                message, None)
        if actor:
            request = {**(request or {}), "adminId": actor.platform_id}
        client = self._client_factory()
        attempt = Attempt(self._db, operator, action, target, posted_alone=guard is not None)
        try:
            unrecorded = attempt.begin(request, guard)  # recorded as sent before it is sent
            if unrecorded:
                return unrecorded  # or not sent at all
            if hasattr(client, "operator"):  # the SGE API identifies the operator (X-Admin-Id)
                client.operator = actor.platform_id if actor else operator
            result = send(client)
        finally:
            client.close()
        ok = bool(result.ok)
        error = None if ok else (result.error or "the admin API gave no reason")
        outcome = attempt.complete(ok, result.status_code, result.data or None, error,
                                   describe_result(result), result.data,
                                   maybe_done=bool(result.maybe_done))
        return replace(outcome, maybe_done=True) if result.maybe_done else outcome

    def _local(self, operator: str, action: str, incident_id: int, change, done: str,
               refused: str) -> ActionOutcome:
        operator = require_operator(operator)
        target = f"incident:{incident_id}"
        denied = self.refused(operator, "act", action, target, None)
        if denied:
            return denied
        try:
            with self._db.transaction() as conn:
                row = change(conn)
                if row is not None:
                    logged = action_log.record_action(conn, operator=operator, action=action,
                                             target=target, request=None, result="ok",
                                             status_code=None, response=None, error=None)
                    return ActionOutcome(True, action, target, None, done, logged=True,
                                         log_id=logged["id"], at=logged["at"])
        except (DatabaseUnavailable, DriverError) as exc:
            return ActionOutcome(False, action, target, None,
                                 f"Failed: the database could not be written ({first_line(exc)}).",
                                 logged=False)
        message = f"Failed: incident {incident_id} was not changed because {refused}."
        return self._record(operator, action, target, None, False, None, None, message, message,
                            None)

    def _record(self, operator, action, target, request, ok, status, response, error, message,
                data) -> ActionOutcome:
        return record(self._db, operator, action, target, request, ok, status, response, error,
                      message, data)


