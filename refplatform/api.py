"""The admin HTTP API of the reference platform (DESIGN §6), as a FastAPI app.

Bearer keys with roles (auth.py); every error is ``{"error": "<what to do>"}`` with 401 (no or
bad key), 403 (wrong role), 404 (unknown id), 409 (wrong state), 413 (body over MAX_BODY_BYTES),
422 (malformed input), 503 (the database is down). Request bodies are bounded BEFORE auth and
before anything is stored. Every POST is written to ``public.admin_audit_log`` with the key's
identity and the answer — a call that changes state in the same transaction as its effect (the
service writes it before its commit: api_audit.CallAudit); an authenticated call keeps its (bounded) body, a call refused before
auth (401, 413) keeps only a redacted summary (size, sha256, top-level field names). OpenAPI at
/docs.
"""

import logging
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import Body, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from refplatform import store
from refplatform.api_audit import MAX_BODY_BYTES, AuditMiddleware
from refplatform.auth import ADMIN, APPROVER, KeyRing, Principal
from refplatform.schedules import Clock, utc_now
from refplatform.service import AuditHook, PlatformService
from sge_recon.config import Settings
from sge_recon.errors import (
    ConflictError,
    DatabaseUnavailable,
    NotFoundError,
    ReconError,
    UsageError,
)

log = logging.getLogger(__name__)

# Full-match patterns: \A...\Z (a `$` would let a trailing newline through) and ASCII classes
# only ([0-9], never \d, which matches Arabic-Indic and other Unicode digits).
ID_PATTERN = r"\A[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}\Z"
# Path parameters are checked by pydantic's Rust regex engine, where `$` is the end of the text.
PATH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
# An amount below 10^15 per entry keeps every sum the checks compute within numeric(38,6) (it
# would take 10^17 entries to overflow), so no accepted correction can break ledger_balance.
MAX_AMOUNT_DIGITS = 15
AMOUNT_PATTERN = (r"\A(?!0+(?:\.0+)?\Z)[0-9]{1,%d}(?:\.[0-9]{1,6})?\Z" % MAX_AMOUNT_DIGITS)
CURRENCY_PATTERN = r"\A[A-Z][A-Z0-9]{1,11}\Z"
# The platform's ledger account grammar (DESIGN §4): a lower-case ASCII name (treasury, fees),
# optionally followed by ':<id>' (user:<id>, affiliate:<id>). No look-alikes, no invisible
# characters, no whitespace.
ACCOUNT_PATTERN = r"\A[a-z][a-z0-9_]{0,63}(?::[A-Za-z0-9][A-Za-z0-9_.\-]{0,127})?\Z"
ID_RULE = "an id of letters, digits, '_', '-', '.' or ':' (at most 128 characters)"
Id = Annotated[str, Field(pattern=ID_PATTERN, description="A platform id, e.g. prog_000001")]

EXAMPLES = {
    "/admin/reconciliation/force-reconcile": '{"programId": "prog_000001"}',
    "/admin/reconciliation/retry-intent": '{"intentId": "int_000001"}',
    "/admin/ledger/corrections": '{"programId": "prog_000001", "reason": "fix rounding", '
                                 '"entries": [{"account": "treasury", "type": "debit", '
                                 '"amount": "0.01", "currency": "USD"}, {"account": "user:u1", '
                                 '"type": "credit", "amount": "0.01", "currency": "USD"}]}',
}
FIELD_RULES = {
    "amount": ('must be a positive decimal string of ASCII digits with at most 15 digits before '
               'the point and 6 after, such as "12.50"'),
    "currency": "must be a currency code of capital ASCII letters and digits, such as USD",
    "type": 'must be "debit" or "credit"',
    "reason": "must be a non-empty sentence (at most 2000 characters)",
    "account": ("must be a ledger account of the platform's grammar (ASCII): a lower-case name "
                "such as treasury, optionally ':<id>' as in user:<id> or affiliate:<id>"),
}


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong and what to do about it.")


_MEANING = {401: "No bearer key, or not a valid one.", 403: "The key's role may not do this.",
            404: "The id names nothing.", 409: "The action does not fit the current state.",
            413: f"The body is larger than {MAX_BODY_BYTES} bytes.", 422: "Malformed input.",
            503: "The platform database is unreachable."}


def errors(*codes: int) -> dict:
    """OpenAPI entries for the error answers a route can give (all {"error": "..."})."""
    return {c: {"model": ErrorBody, "description": _MEANING[c]} for c in (*codes, 413, 503)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class ProgramBody(Strict):
    programId: Id


class IntentBody(Strict):
    intentId: Id


class CorrectionEntry(Strict):
    account: str = Field(min_length=1, max_length=200, pattern=ACCOUNT_PATTERN,
                         description="treasury, user:<id>, affiliate:<id>, ...")
    type: Literal["debit", "credit"]
    amount: str = Field(pattern=AMOUNT_PATTERN,
                        description='A positive decimal string below 10^15, e.g. "12.50"')
    currency: str = Field(pattern=CURRENCY_PATTERN)


class CorrectionBody(Strict):
    programId: Id
    reason: str = Field(min_length=1, max_length=2000,
                        pattern=r"\A[^\x00]*[^\s\x00][^\x00]*\Z")
    entries: list[CorrectionEntry] = Field(min_length=1, max_length=1000)
    transactionId: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=ID_PATTERN,
        description="Beyond DESIGN §6: complete this unbalanced transaction with its missing "
                    "legs (they must balance together with its entries) instead of writing a "
                    "new one; without it, the entries must balance on their own (at least 2)")


def create_app(settings: Settings, *, database_url: str, clock: Clock = utc_now,
               pool_size: int = 10) -> FastAPI:
    """The app; it opens its connection pool on start-up and closes it on shutdown."""
    keyring = KeyRing.from_settings(settings)  # refuses to build without ADMIN_API_KEY
    pool = store.PlatformPool(database_url, max_size=pool_size)
    service = PlatformService(settings, pool, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool.open()
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="SGE admin API (reference platform)", version="1.0",
                  description="DESIGN §6. Bearer auth: the admin key for admin operations, an "
                              "approver key for payout approvals.", lifespan=lifespan)
    app.state.service = service
    _install_error_handlers(app)
    app.add_middleware(AuditMiddleware, pool=pool)

    def principal(request: Request) -> Principal:
        header = request.headers.get("authorization")
        if not header:
            raise HTTPException(401, "missing bearer key; send the header "
                                     "'Authorization: Bearer <key>' with ADMIN_API_KEY (or an "
                                     "approver key for approvals)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "malformed Authorization header; use "
                                     "'Authorization: Bearer <key>'")
        found = keyring.identify(token.strip())
        if found is None:
            request.state.actor = "invalid-key"
            raise HTTPException(401, "the bearer key is not valid; use ADMIN_API_KEY, or "
                                     "PAYOUT_APPROVER_1/2 for approvals")
        request.state.actor = found.identity
        return found

    def admin(p: Annotated[Principal, Depends(principal)]) -> Principal:
        if p.role != ADMIN:
            raise HTTPException(403, f"{p.identity} may only approve payout batches; this "
                                     "operation needs the admin key (ADMIN_API_KEY)")
        return p

    def approver(p: Annotated[Principal, Depends(principal)]) -> Principal:
        if p.role != APPROVER:
            raise HTTPException(403, "approvals need an approver key (PAYOUT_APPROVER_1 or "
                                     "PAYOUT_APPROVER_2); the admin key cannot approve")
        return p

    def refuse_unauthorised(request: Request) -> JSONResponse | None:
        """The key is checked before the body: FastAPI parses the body before it runs the
        dependencies, so a malformed body must not be answered (422, with an example body)
        to a caller without a key that may make this call (401/403), nor audited as one."""
        try:
            (approver if request.url.path.endswith("/approve") else admin)(principal(request))
        except HTTPException as exc:
            return _error(exc.status_code, str(exc.detail),
                          {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None)
        return None

    def call_audit(request: Request) -> AuditHook | None:
        """Writes this call's audit row in the action's own transaction (AuditMiddleware)."""
        audit = getattr(request.state, "audit", None)
        return audit.write_in if audit is not None else None

    app.state.refuse_unauthorised = refuse_unauthorised
    Audit = Annotated[AuditHook | None, Depends(call_audit)]
    Admin = Annotated[Principal, Depends(admin)]
    AnyKey = Annotated[Principal, Depends(principal)]

    @app.get("/health", tags=["health"], responses=errors())
    def health() -> JSONResponse:
        """Liveness and database reachability: 200 when the DB answers, 503 when it does not."""
        result = service.health()
        return JSONResponse(result, status_code=200 if result["ok"] else 503)

    @app.post("/admin/reconciliation/force-reconcile", tags=["reconciliation"],
              responses=errors(401, 403, 404, 422))
    def force_reconcile(body: ProgramBody, who: Admin, audit: Audit) -> dict:
        """Run the ledger checks (per currency and per transaction) for one program now."""
        return service.force_reconcile(body.programId, audit)

    @app.post("/admin/reconciliation/retry-intent", tags=["reconciliation"],
              responses=errors(401, 403, 404, 409, 422))
    def retry_intent(body: IntentBody, who: Admin, audit: Audit) -> dict:
        """Re-enqueue a stuck or failed intent; idempotent (one waiting job at most)."""
        return service.retry_intent(body.intentId, audit)

    @app.get("/admin/queue/status", tags=["queue"], responses=errors(401))
    def queue_status(who: AnyKey) -> dict:
        """Depth by status, the pause flag and the workers seen in the last 24 h."""
        return service.queue_status()

    @app.post("/admin/queue/pause", tags=["queue"], responses=errors(401, 403))
    def pause(who: Admin, audit: Audit) -> dict:
        """Workers stop taking new jobs (those in flight finish)."""
        return service.set_paused(True, who.identity, audit)

    @app.post("/admin/queue/resume", tags=["queue"], responses=errors(401, 403))
    def resume(who: Admin, audit: Audit) -> dict:
        """Workers take jobs again."""
        return service.set_paused(False, who.identity, audit)

    BatchId = Annotated[str, Path(pattern=PATH_ID_PATTERN)]

    @app.post("/admin/payouts/batch/{batchId}/approve", tags=["payouts"],
              responses=errors(401, 403, 404, 409, 422))
    def approve(batchId: BatchId, who: Annotated[Principal, Depends(approver)],
                audit: Audit) -> dict:
        """One approval; two distinct approvers make the batch approved."""
        return service.approve(batchId, who.approver, audit)

    @app.post("/admin/payouts/batch/{batchId}/execute", tags=["payouts"],
              responses=errors(401, 403, 404, 409, 422))
    def execute(batchId: BatchId, who: Admin, audit: Audit) -> dict:
        """Pay an approved batch exactly once."""
        return service.execute(batchId, audit)

    @app.post("/admin/webhooks/{deliveryId}/retry", tags=["webhooks"],
              responses=errors(401, 403, 404, 409, 422))
    def retry_webhook(deliveryId: Annotated[str, Path(pattern=PATH_ID_PATTERN)],
                      who: Admin, audit: Audit) -> dict:
        """Schedule an immediate new attempt of a delivery."""
        return service.retry_webhook(deliveryId, audit)

    @app.post("/admin/ledger/corrections", tags=["ledger"],
              responses=errors(401, 403, 404, 409, 422))
    def correction(body: Annotated[CorrectionBody, Body()], who: Admin, audit: Audit,
                   idempotency_key: Annotated[str | None, Header(
                       alias="Idempotency-Key", min_length=1, max_length=128,
                       pattern=PATH_ID_PATTERN,
                       description="Beyond DESIGN §6: the same key sent again (a retry after a "
                                   "timeout) gets the first answer back, marked replayed, and "
                                   "posts nothing; a key used for other money is refused (409)"
                   )] = None) -> dict:
        """One correcting journal transaction; it must balance per currency; the reason is kept.
        With transactionId: the missing legs of that unbalanced transaction."""
        if body.transactionId is None and len(body.entries) < 2:
            raise UsageError("entries: a new correcting transaction needs at least one debit "
                             "and one credit (or give transactionId to complete one)")
        return service.correction(body.programId, body.reason.strip(),
                                  [e.model_dump() for e in body.entries], who.identity,
                                  body.transactionId, idempotency_key, audit)

    @app.post("/admin/webhooks/endpoints/{endpointId}/disable", tags=["webhooks"],
              responses=errors(401, 403, 404, 409, 422))
    def disable_endpoint(endpointId: Annotated[str, Path(pattern=PATH_ID_PATTERN)],
                         who: Admin, audit: Audit) -> dict:
        """Beyond DESIGN §6: stop delivering to an endpoint (its deliveries wait)."""
        return service.set_endpoint_enabled(endpointId, False, audit)

    @app.post("/admin/webhooks/endpoints/{endpointId}/enable", tags=["webhooks"],
              responses=errors(401, 403, 404, 409, 422))
    def enable_endpoint(endpointId: Annotated[str, Path(pattern=PATH_ID_PATTERN)],
                        who: Admin, audit: Audit) -> dict:
        """Beyond DESIGN §6: deliver to an endpoint again (its failure count starts afresh)."""
        return service.set_endpoint_enabled(endpointId, True, audit)

    return app


# ---------------------------------------------------------------------------------------------
# errors: always {"error": "<sentence>"}
# ---------------------------------------------------------------------------------------------
def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _unauthorised(request: Request) -> JSONResponse | None:
    """401/403 for a call whose key may not make it (create_app's refuse_unauthorised)."""
    if request.method != "POST":
        return None
    return request.app.state.refuse_unauthorised(request)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404 and exc.detail == "Not Found":
            return _error(404, f"there is no endpoint {request.method} {request.url.path}; "
                               "the endpoints are listed at /docs")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; "
                               "see /docs for the right method", exc.headers)
        if exc.status_code == 400:  # a body that is not even text
            if (refused := _unauthorised(request)) is not None:
                return refused
            return _error(422, "Invalid request: the body is not valid JSON"
                          + (f". Send a JSON body such as {EXAMPLES[request.url.path]}"
                             if request.url.path in EXAMPLES else ""))
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return _error(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if (refused := _unauthorised(request)) is not None:
            return refused
        return _error(422, validation_sentence(request.url.path, exc.errors()))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError):
        return _error(404, exc.message)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError):
        return _error(409, exc.message)

    @app.exception_handler(UsageError)
    async def unusable(request: Request, exc: UsageError):
        return _error(422, exc.message)

    @app.exception_handler(DatabaseUnavailable)
    async def db_down(request: Request, exc: DatabaseUnavailable):
        return _error(503, f"{exc.message}; retry once the database is back")

    @app.exception_handler(ReconError)
    async def other(request: Request, exc: ReconError):
        return _error(500, exc.message)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return _error(500, "internal error in the admin API; nothing was changed if the action "
                           "failed before its commit; see the API log and retry")


def validation_sentence(path: str, errors: list[dict]) -> str:
    """One sentence from pydantic's errors: which field is wrong, how, and an example body."""
    parts = []
    for err in errors[:3]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "path", "query")]
        name = "".join(f"[{x}]" if x.isdigit() else f".{x}" for x in loc).lstrip(".") or "body"
        kind = err.get("type", "")
        field = loc[-1] if loc else ""
        if kind == "json_invalid":
            parts.append("the body is not valid JSON")
        elif kind == "missing":
            parts.append(f"{name} is required")
        elif kind == "extra_forbidden":
            parts.append(f"{name} is not a known field")
        elif kind in ("model_attributes_type", "dict_type") and name == "body":
            parts.append("the body must be a JSON object")
        elif field in FIELD_RULES:
            parts.append(f"{name} {FIELD_RULES[field]}")
        elif field.endswith("Id") or kind == "string_pattern_mismatch":
            parts.append(f"{name} must be {ID_RULE}")
        elif field == "entries":
            parts.append(f"{name} must be a list of at least two entries (a debit and a credit)")
        else:
            parts.append(f"{name}: {err.get('msg', 'invalid')}")
    sentence = "Invalid request: " + "; ".join(parts)
    example = EXAMPLES.get(path)
    return sentence + (f". Send a JSON body such as {example}" if example else "")
