"""A client for the SGE platform's own admin API (``/api/v2``), with the same surface and results
as :class:`~sge_recon.admin_client.AdminClient` (DESIGN §6), so that the console and the jobs act
on either platform through one interface (the profile's ``admin_api:`` chooses; see
:func:`admin_client_for`).

SGE's API identifies the operator by the free-text header ``X-Admin-Id`` (set :attr:`operator`
before an action: the console passes the signed-in account's SGE admin id, its ``platform_id``,
e.g. ``ops:alice``; console/sge_identity.py), has no Bearer keys, and answers HTTP
400 ``{"error"}`` for every refusal. What it does not have (retry-intent, queue pause/resume,
webhook retry, ledger corrections) answers at once, without a request, with the reason in
:data:`UNSUPPORTED`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from .admin_client import AdminResult, _segment, exchange
from .config import Settings
from .config_checks import hide_password

# action (AdminClient method) -> why the SGE platform cannot do it
UNSUPPORTED = {
    "retry_intent": "the SGE platform has no retry-intent endpoint (its workers retry intents "
                    "themselves with backoff, up to 5 attempts)",
    "queue_status": "the SGE platform has no queue-status endpoint; sge-recon reads BullMQ on "
                    "Redis (REDIS_URL)",
    "pause_queue": "the SGE platform has no queue pause endpoint; pause a BullMQ queue on the "
                   "Queue page (through Redis)",
    "resume_queue": "the SGE platform has no queue resume endpoint; resume a BullMQ queue on the "
                    "Queue page (through Redis)",
    "retry_webhook": "the SGE platform sends no outbound webhooks",
    "disable_endpoint": "the SGE platform sends no outbound webhooks",
    "enable_endpoint": "the SGE platform sends no outbound webhooks",
    "ledger_correction": "the SGE platform has no ledger-correction endpoint",
}


class SgeAdminClient:
    dialect = "sge"

    def __init__(self, base_url: str, *, operator: str | None = None,
                 bearer: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.operator = operator
        self._bearer = bearer  # only for a gateway in front of the API; SGE itself has no keys
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> "SgeAdminClient":
        return cls(settings.SGE_ADMIN_API_URL, **kw)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SgeAdminClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- what SGE has --------------------------------------------------------------------------
    def health(self) -> AdminResult:
        return self._call("Health check", "GET", "/healthz", identify=False)

    def force_reconcile(self, program_id: str | None) -> AdminResult:
        body = {"programId": program_id} if program_id else {}
        return self._call(f"Reconcile of program {program_id or '(all)'}", "POST",
                          "/api/v2/enterprise/reconcile", json=body, identify=False)

    def stats(self) -> AdminResult:
        return self._call("Enterprise stats", "GET", "/api/v2/enterprise/stats", identify=False)

    def approve_batch(self, batch_id: str, approver: int | str = 1, *,
                      key: str | None = None) -> AdminResult:
        """Approve as :attr:`operator` (``X-Admin-Id``); approver keys do not exist on SGE."""
        return self._call(f"Approval of payout batch {batch_id}", "POST",
                          f"/api/v2/payouts/batch/{_segment(batch_id)}/approve")

    def execute_batch(self, batch_id: str) -> AdminResult:
        return self._call(f"Execution of payout batch {batch_id}", "POST",
                          f"/api/v2/payouts/batch/{_segment(batch_id)}/execute")

    # -- what it does not have -----------------------------------------------------------------
    def retry_intent(self, intent_id: str) -> AdminResult:
        return self._unsupported("retry_intent", f"Retry of intent {intent_id}")

    def queue_status(self) -> AdminResult:
        return self._unsupported("queue_status", "Queue status")

    def pause_queue(self) -> AdminResult:
        return self._unsupported("pause_queue", "Pause of the settlement queue")

    def resume_queue(self) -> AdminResult:
        return self._unsupported("resume_queue", "Resume of the settlement queue")

    def retry_webhook(self, delivery_id: str) -> AdminResult:
        return self._unsupported("retry_webhook", f"Retry of webhook delivery {delivery_id}")

    def disable_endpoint(self, endpoint_id: str) -> AdminResult:
        return self._unsupported("disable_endpoint", f"Disabling of endpoint {endpoint_id}")

    def enable_endpoint(self, endpoint_id: str) -> AdminResult:
        return self._unsupported("enable_endpoint", f"Enabling of endpoint {endpoint_id}")

    def ledger_correction(self, program_id: str, reason: str, entries: list[dict[str, Any]],
                          transaction_id: str | None = None,
                          request_key: str | None = None) -> AdminResult:
        # the same signature as the contract client's (AdminClient.ledger_correction): the
        # console passes its Idempotency-Key to whichever dialect is configured
        return self._unsupported("ledger_correction", f"Ledger correction for {program_id}")

    # -- plumbing ------------------------------------------------------------------------------
    def _unsupported(self, name: str, action: str) -> AdminResult:
        return AdminResult(action, False, None, {}, f"not possible: {UNSUPPORTED[name]}")

    def _call(self, action: str, method: str, path: str, *, json: Any = None,
              identify: bool = True) -> AdminResult:
        headers = {}
        if identify:
            operator = (self.operator or "").strip()  # an SGE id as it is: SGE compares exactly
            if not operator:
                return AdminResult(action, False, None, {},
                                   "the SGE API identifies the operator by X-Admin-Id: give "
                                   "your SGE admin id as operator first")
            if not (operator.isascii() and operator.isprintable()):
                return AdminResult(action, False, None, {},
                                   f"the operator id {operator!r} cannot be sent as the SGE "
                                   "API's X-Admin-Id header (printable ASCII only); set the "
                                   "account's SGE admin id (`sge-recon users set-platform-id`)")
            headers["X-Admin-Id"] = operator
        if self._bearer:
            headers["Authorization"] = f"Bearer {self._bearer}"
        where = hide_password(self.base_url)
        result = exchange(
            self._http, action, method, path, json=json, headers=headers,
            timed_out=f"the SGE admin API at {where} did not answer in time; check it "
                      "and retry (the action may still complete)",
            unreachable=f"the SGE admin API is unreachable at {where}; check "
                        "SGE_ADMIN_API_URL")
        if result.ok and "message" not in result.data:
            result = replace(result, data={**result.data,
                                           "message": _describe(action, result.data)})
        return result


def _describe(action: str, data: dict) -> str:
    batch = data.get("batch") if isinstance(data.get("batch"), dict) else None
    if batch:
        text = f"{action}: batch is now {batch.get('status')}"
        if data.get("payoutsExecuted") is not None:
            text += f", {data['payoutsExecuted']} payout(s) executed"
        return text + "."
    if "balanced" in data:
        # the platform's JSON, whatever its shape: only a JSON true is balanced, and a count that
        # is neither a list, an object nor a whole number is said to be unknown (never a raise)
        return (f"{action}: ledger {'balanced' if data['balanced'] is True else 'NOT balanced'}; "
                f"{_count(data.get('unbalancedJournals', 0))} unbalanced journal(s); "
                f"{_count(data.get('stuckIntents', 0))} stuck intent(s).")
    return f"{action}: done."


def _count(value: Any) -> str:
    """How many a reconcile answer's field says: a list's or an object's length, a whole number
    as it is; anything else (null, a string, a fraction) is not a count."""
    if isinstance(value, (list, dict)):
        return str(len(value))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return "an unknown number of"


def admin_client_for(settings: Settings, admin_api: str, *, timeout: float = 15.0,
                     operator: str | None = None):
    """The admin client of the platform's dialect (the profile's ``admin_api``)."""
    if admin_api == "sge":
        return SgeAdminClient(settings.SGE_ADMIN_API_URL, operator=operator,
                              bearer=settings.ADMIN_API_KEY, timeout=timeout)
    from .admin_client import AdminClient

    return AdminClient(settings.SGE_ADMIN_API_URL, admin_key=settings.ADMIN_API_KEY,
                       timeout=timeout)
