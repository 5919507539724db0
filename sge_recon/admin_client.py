"""A client for the platform's admin API (DESIGN §6), for the console, the jobs and the CLI.

Every call returns an :class:`AdminResult` — never raises for an HTTP error, a refused action or an
unreachable API — so a page can show ``result.message`` as it is. Keys are sent as bearer tokens and
never logged, stored or put in a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from .config import Settings
from .config_checks import hide_password

KEY_SETTINGS = {"admin": "ADMIN_API_KEY", "approver_1": "PAYOUT_APPROVER_1",
                "approver_2": "PAYOUT_APPROVER_2"}


@dataclass(frozen=True)
class AdminResult:
    """The outcome of one admin API call.

    ok: the API did it (2xx). status_code: the HTTP status, None when there was no answer.
    data: the API's JSON answer. error: the API's `error` sentence, or why there was no answer.
    """

    action: str
    ok: bool
    status_code: int | None
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # no answer, but the request may have reached the API (a read timeout, a dropped
    # connection): the action may have been done, so it must not be recorded as refused
    maybe_done: bool = False

    @property
    def reachable(self) -> bool:
        return self.status_code is not None

    @property
    def message(self) -> str:
        """One sentence for a person: what happened, and what to do when it did not work."""
        if self.ok:
            return str(self.data.get("message") or f"{self.action}: done.")
        if self.status_code is None:
            return f"{self.action} failed: {self.error}"
        return f"{self.action} refused (HTTP {self.status_code}): {self.error}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "ok": self.ok, "status_code": self.status_code,
                "data": self.data, "error": self.error, "message": self.message}


class AdminClient:
    def __init__(self, base_url: str, *, admin_key: str | None = None,
                 approver_keys: dict[int, str | None] | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self._keys = {"admin": admin_key}
        for n, key in (approver_keys or {}).items():
            self._keys[f"approver_{n}"] = key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> "AdminClient":
        return cls(settings.SGE_ADMIN_API_URL, admin_key=settings.ADMIN_API_KEY,
                   approver_keys={1: settings.PAYOUT_APPROVER_1, 2: settings.PAYOUT_APPROVER_2},
                   **kw)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AdminClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the §6 endpoints ---------------------------------------------------------------------
    def health(self) -> AdminResult:
        return self._call("Health check", "GET", "/health", key=None)

    def force_reconcile(self, program_id: str) -> AdminResult:
        return self._call(f"Force reconcile of program {program_id}", "POST",
                          "/admin/reconciliation/force-reconcile", json={"programId": program_id})

    def retry_intent(self, intent_id: str) -> AdminResult:
        return self._call(f"Retry of intent {intent_id}", "POST",
                          "/admin/reconciliation/retry-intent", json={"intentId": intent_id})

    def queue_status(self) -> AdminResult:
        return self._call("Queue status", "GET", "/admin/queue/status")

    def pause_queue(self) -> AdminResult:
        return self._call("Pause of the settlement queue", "POST", "/admin/queue/pause")

    def resume_queue(self) -> AdminResult:
        return self._call("Resume of the settlement queue", "POST", "/admin/queue/resume")

    def approve_batch(self, batch_id: str, approver: int | str = 1, *,
                      key: str | None = None) -> AdminResult:
        """Approve as approver 1 or 2 (their configured keys), or with an explicit `key` (e.g. one
        an approver typed into the console)."""
        name = approver if isinstance(approver, str) else f"approver_{approver}"
        return self._call(f"Approval of payout batch {batch_id}", "POST",
                          f"/admin/payouts/batch/{_segment(batch_id)}/approve", key=name,
                          explicit_key=key)

    def execute_batch(self, batch_id: str) -> AdminResult:
        return self._call(f"Execution of payout batch {batch_id}", "POST",
                          f"/admin/payouts/batch/{_segment(batch_id)}/execute")

    def retry_webhook(self, delivery_id: str) -> AdminResult:
        return self._call(f"Retry of webhook delivery {delivery_id}", "POST",
                          f"/admin/webhooks/{_segment(delivery_id)}/retry")

    def disable_endpoint(self, endpoint_id: str) -> AdminResult:
        """Beyond DESIGN §6 (the reference platform has it): stop deliveries to an endpoint."""
        return self._call(f"Disabling of webhook endpoint {endpoint_id}", "POST",
                          f"/admin/webhooks/endpoints/{_segment(endpoint_id)}/disable")

    def enable_endpoint(self, endpoint_id: str) -> AdminResult:
        """Beyond DESIGN §6 (the reference platform has it): deliver to an endpoint again."""
        return self._call(f"Enabling of webhook endpoint {endpoint_id}", "POST",
                          f"/admin/webhooks/endpoints/{_segment(endpoint_id)}/enable")

    def ledger_correction(self, program_id: str, reason: str, entries: list[dict[str, Any]],
                          transaction_id: str | None = None, *,
                          request_key: str | None = None) -> AdminResult:
        """entries: {"account", "type", "amount", "currency"}; amounts as Decimal or str.
        ``transaction_id`` (beyond DESIGN §6; the reference platform has it): the entries
        complete that unbalanced transaction instead of forming a new one. ``request_key``
        (the Idempotency-Key header, beyond DESIGN §6): sending the same correction again with
        the same key, after a timeout, posts it at most once."""
        body = {"programId": program_id, "reason": reason,
                "entries": [{**e, "amount": _money(e.get("amount"))} for e in entries]}
        if transaction_id:
            body["transactionId"] = transaction_id
        return self._call(f"Ledger correction for program {program_id}", "POST",
                          "/admin/ledger/corrections", json=body,
                          headers={"Idempotency-Key": request_key} if request_key else None)

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, action: str, method: str, path: str, *, json: Any = None,
              key: str | None = "admin", explicit_key: str | None = None,
              headers: dict[str, str] | None = None) -> AdminResult:
        headers = dict(headers or {})
        if key is not None:
            token = explicit_key or self._keys.get(key)
            if not token:
                setting = KEY_SETTINGS.get(key, key)
                return AdminResult(action, False, None, {},
                                   f"no key configured for {key}; set {setting} (the console and "
                                   "jobs read it from the settings)")
            flaw = key_flaw(token)
            if flaw:
                setting = KEY_SETTINGS.get(key, key) if not explicit_key else "the key given"
                return AdminResult(action, False, None, {},
                                   f"the key for {key} ({setting}) {flaw}, so it cannot be sent "
                                   "as an HTTP header; set it again as one line of printable "
                                   "ASCII (a key copied from a file often brings its line break along); nothing was "
                                   "sent")
            headers["Authorization"] = f"Bearer {token}"
        where = hide_password(self.base_url)
        return exchange(
            self._http, action, method, path, json=json, headers=headers,
            timed_out=f"admin API at {where} did not answer in time; it may be "
                      "overloaded — check it and retry (the action may still complete)",
            unreachable=f"admin API unreachable at {where}; start it "
                        "(`sge-recon api`) or fix SGE_ADMIN_API_URL")


def key_flaw(token: str) -> str | None:
    """Why ``token`` cannot be a bearer token in an HTTP header (without quoting it), or None."""
    if "\n" in token or "\r" in token:
        return "contains a line break"
    if not token.isascii():
        return "contains a character that is not ASCII"
    if not token.isprintable():
        return "contains a control character (a tab, a NUL, ...)"
    if token != token.strip():
        return "begins or ends with a space"
    return None


def exchange(http: httpx.Client, action: str, method: str, path: str, *, json: Any,
             headers: dict[str, str], timed_out: str, unreachable: str) -> AdminResult:
    """One request of an admin client (either dialect), never raising: a timeout or an
    unreachable API is a failed result with the dialect's sentence; an error answer carries the
    API's own ``error`` text. A 2xx counts as done only when it is a JSON answer that says no
    error: a 200 carrying ``error`` or ``success: false``, or a page that is not JSON (a sign-in
    proxy), is not known to be done (``maybe_done``); nor is a 5xx answer to a POST (a server
    error after the commit, a gateway's 502/504 while the API still works on it)."""
    try:
        response = http.request(method, path, json=json, headers=headers)
    except (httpx.ConnectTimeout, httpx.PoolTimeout):
        return AdminResult(action, False, None, {}, timed_out)  # never sent
    except httpx.TimeoutException:
        return AdminResult(action, False, None, {}, timed_out, maybe_done=True)
    except httpx.ConnectError:
        return AdminResult(action, False, None, {}, unreachable)  # never sent
    except httpx.LocalProtocolError:
        # a header HTTP cannot carry, refused before the request was written: never sent (its
        # text quotes the header, which may be a key: not shown)
        return AdminResult(action, False, None, {},
                           "the request could not be sent: one of its headers is not valid "
                           "HTTP (a line break or control character); nothing was sent")
    except httpx.HTTPError:
        # sent, but the connection broke before a whole answer: it may have been done
        return AdminResult(action, False, None, {}, unreachable, maybe_done=True)
    except (UnicodeError, ValueError) as exc:  # a header or body that HTTP cannot carry
        return AdminResult(action, False, None, {}, f"the request could not be sent: {exc}")
    status = response.status_code
    # an API or a gateway that quotes the credentials it refused ("invalid token Bearer …",
    # a validation error's "input"): never into a result, the console or recon.action_log
    parsed = _without(_json_body(response), _credentials(headers))
    if 200 <= status < 300:
        unclear = _unclear_success(status, parsed)
        if unclear is not None:
            return AdminResult(action, False, status, parsed if isinstance(parsed, dict) else {},
                               unclear, maybe_done=True)
        return AdminResult(action, True, status, _as_object(parsed), None)
    data = _as_object(parsed) if parsed is not _NOT_JSON else {
        "error": f"the API answered HTTP {status} with a non-JSON body"}
    error = str(data.get("error") or f"the API answered HTTP {status} without an explanation")
    if status >= 500 and method != "GET":
        # a server error (or a gateway's 502/504 while the API goes on working) is no refusal:
        # the action may have been done, so it must not be taken for "not done" (a retry of a
        # correction would then get a new Idempotency-Key and post it twice)
        return AdminResult(action, False, status, data,
                           f"{error} (HTTP {status} is no refusal: the action may have been "
                           "done; check the platform before repeating it)", maybe_done=True)
    return AdminResult(action, False, status, data, error)


_NOT_JSON = object()
MASK = "****"


def _credentials(headers: dict[str, str]) -> list[str]:
    """The secrets a request carries (its Authorization header's token), longest first."""
    value = str(headers.get("Authorization") or "")
    token = value.split(" ", 1)[1].strip() if " " in value else value.strip()
    return sorted({s for s in (value, token) if len(s) >= 4}, key=len, reverse=True)


def _without(value: Any, secrets: list[str]) -> Any:
    """``value`` (an answer's parsed JSON) with every secret in its texts shown as ****."""
    if not secrets or value is _NOT_JSON:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {_without(k, secrets): _without(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, secrets) for v in value]
    return value


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return _NOT_JSON


def _as_object(parsed: Any) -> dict[str, Any]:
    if parsed is _NOT_JSON or parsed is None:
        return {}
    return parsed if isinstance(parsed, dict) else {"items": parsed}


def _unclear_success(status: int, parsed: Any) -> str | None:
    """Why a 2xx answer does not say the action was done, or None when it does."""
    check = "; check the platform before repeating the action"
    if parsed is _NOT_JSON:
        return (f"the API answered HTTP {status} but not with JSON (a sign-in page or a proxy "
                f"in between?), so it is not known whether it was done{check}")
    if isinstance(parsed, dict):
        if parsed.get("error"):
            return f"the API answered HTTP {status} with an error: {parsed['error']}{check}"
        if parsed.get("success") is False:
            return f"the API answered HTTP {status} with success: false{check}"
    return None


def _money(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value  # strings pass as they are; anything else the API rejects with a clear 422


def _segment(value: str) -> str:
    """An id as one URL path segment (a '/' in an id must not reach another endpoint, nor may an
    id '.' or '..': a dot segment, which the HTTP client removes, sending the action to the
    endpoint above; its dots are sent encoded, and the API decodes them back into the id)."""
    from urllib.parse import quote

    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text.strip(".") == "" else text
