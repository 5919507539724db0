"""The reference admin API's audit: every POST, with the key's identity (never the key), its body
(scrubbed) and the answer, written to the platform's admin_audit_log; bodies over MAX_BODY_BYTES
are refused (413) before they are read whole.

A call that changes state writes its row in the action's own transaction, just before the commit
(``CallAudit.write_in``, called by the service): the effect and its audit row commit together or
not at all, so a crash between them can leave neither but never an unaudited effect. Every
other call (refused, failed, or one that changed nothing) is written after the answer, in its own
transaction, before the answer is sent."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

import anyio

from refplatform import store

log = logging.getLogger("refplatform.api")
MAX_BODY_BYTES = 64 * 1024  # the largest correction (1000 entries) fits in ~110 bytes each


# ---------------------------------------------------------------------------------------------
# audit: every POST, with the key's identity (never the key), body and answer
# ---------------------------------------------------------------------------------------------
class BodyTooLarge(Exception):
    pass


class CallAudit:
    """One POST's audit row, to be written by the endpoint inside its action's transaction."""

    def __init__(self, scope, raw_body: bytes | None):
        self.scope, self.raw_body = scope, raw_body
        self.written = False  # the row is in the action's transaction (its commit decides)

    def write_in(self, conn, answer: dict, status_code: int = 200) -> None:
        """Write this call's row, answered ``answer``, on the action's connection ``conn``
        before it commits. A row PostgreSQL cannot hold falls back to the bare row (each in a
        savepoint); if even that fails, the error rolls the action back with it."""
        try:
            with conn.transaction():
                store.write_audit(conn, method="POST", **audit_row(
                    self.scope, self.raw_body, status_code, _scrub(answer)))
        except Exception:  # noqa: BLE001 - the bare row below, or the action is undone
            log.exception("could not write the audit log entry for POST %s",
                          ascii(str(self.scope.get("path"))[:300]))
            with conn.transaction():
                store.write_audit(conn, method="POST",
                                  **bare_row(self.scope, self.raw_body, status_code))
        self.written = True


class AuditMiddleware:
    """Pure ASGI middleware, outermost: bounds the body, buffers the (small JSON) answer, records
    it, then sends it, so the audit row exists by the time the caller sees the answer.

    The body is read here, up to MAX_BODY_BYTES, BEFORE the app (and so before auth) sees it: a
    larger one (declared by Content-Length or streamed) is answered 413 without being stored or
    parsed; the audit row then holds only its declared and received sizes."""

    def __init__(self, app, pool: store.PlatformPool, max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.pool = pool
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            raw = await self._read_body(scope, receive)
        except BodyTooLarge as exc:
            await self._refuse_too_large(scope, send, str(exc))
            return
        delivered = {"done": False}
        # the endpoint writes the row in its own transaction (request.state.audit), or we do
        audit = CallAudit(scope, raw)
        scope.setdefault("state", {})["audit"] = audit

        async def replay():
            if not delivered["done"]:
                delivered["done"] = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as a server does

        held: list[dict] = []
        status = {"code": 500}

        async def holding_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if not (audit.written and status["code"] < 400):  # else committed with it
                    await anyio.to_thread.run_sync(self._record, scope, raw, status["code"],
                                                   held)
                for m in held:
                    await send(m)
                held.clear()

        try:
            await self.app(scope, replay, holding_send)
        except Exception:
            await anyio.to_thread.run_sync(self._record, scope, raw, 500, [])
            raise
        for m in held:  # a streamed answer that never finished: pass on what we have
            await send(m)

    async def _read_body(self, scope, receive) -> bytes:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body:
                    raise BodyTooLarge(f"declared {int(declared)} bytes")
            except ValueError:
                pass  # a malformed length is the server's business; we still count below
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge(f"more than {self.max_body} bytes received")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _refuse_too_large(self, scope, send, what: str) -> None:
        message = (f"the request body is too large ({what}); the admin API accepts at most "
                   f"{self.max_body} bytes (64 KiB): send fewer correction entries per call")
        payload = json.dumps({"error": message}).encode()
        held = [{"type": "http.response.start", "status": 413,
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(payload)).encode()),
                             (b"connection", b"close")]},
                {"type": "http.response.body", "body": payload}]
        await anyio.to_thread.run_sync(self._record, scope, None, 413, held, what)
        for m in held:
            await send(m)

    def _record(self, scope, raw_body: bytes | None, status_code: int, held: list[dict],
                too_large: str | None = None) -> None:
        try:
            answer = _parse(b"".join(m.get("body", b"") for m in held
                                     if m["type"] == "http.response.body"))
            self._write(**audit_row(scope, raw_body, status_code, answer, too_large))
        except Exception:  # noqa: BLE001 - the audit must never turn an answer into a crash
            log.exception("could not write the audit log entry for POST %s",
                          ascii(str(scope.get("path"))[:300]))
            self._write_bare(scope, raw_body, status_code)

    def _write(self, **row: Any) -> None:
        with self.pool.transaction(timeout=5) as conn:
            store.write_audit(conn, method="POST", **row)

    def _write_bare(self, scope, raw_body: bytes | None, status_code: int) -> None:
        try:
            self._write(**bare_row(scope, raw_body, status_code))
        except Exception:  # noqa: BLE001 - the database itself is gone: the log has it
            log.exception("could not write even the bare audit log entry")


def _result(status_code: int) -> str:
    """ok only for a 2xx: a redirect (307 to the same path without its trailing slash) did
    nothing, so it is no ``ok`` call of the endpoint whose path it names."""
    if status_code >= 500:
        return "error"
    return "ok" if 200 <= status_code < 300 else "refused"


def audit_row(scope, raw_body: bytes | None, status_code: int, answer: Any,
              too_large: str | None = None) -> dict[str, Any]:
    """The full row of one POST (``answer``: its parsed, scrubbed answer)."""
    headers = dict(scope.get("headers") or [])
    # no actor set: no endpoint checked the key (no such path, a redirect): the key is
    # "unverified", never called invalid (a valid key there is no guessing attempt)
    actor = (scope.get("state") or {}).get("actor") or (
        "anonymous" if b"authorization" not in headers else "unverified-key")
    authenticated = actor not in ("anonymous", "invalid-key", "unverified-key")
    if too_large is not None:
        body = {"refused": "body too large", "size": too_large[:100]}
    elif authenticated:
        body = _parse(raw_body or b"")
    else:  # refused before auth: a bounded, redacted summary, never the body
        body = _summary(raw_body or b"")
    message = None
    if isinstance(answer, dict):
        message = answer.get("message") or answer.get("error")
    path = _scrub(str(scope["path"]))[:300]
    return {"actor": actor, "path": path, "target": _target(path, body if authenticated else None),
            "body": body, "status_code": status_code, "result": _result(status_code),
            "message": _scrub(message)[:1000] if isinstance(message, str) else None}


def bare_row(scope, raw_body: bytes | None, status_code: int) -> dict[str, Any]:
    """The call's row when its full row could not be written (a body or path PostgreSQL
    cannot hold): who, where, the answer, and the body's size and hash — never no row."""
    return {"actor": (scope.get("state") or {}).get("actor") or "unidentified",
            "path": ascii(str(scope["path"]))[:300], "target": None,
            "body": {"unrecordable_body": True, "bytes": len(raw_body or b""),
                     "sha256": hashlib.sha256(raw_body or b"").hexdigest()},
            "status_code": status_code, "result": _result(status_code),
            "message": "the full audit row could not be written; see the API's log"}


def _summary(raw: bytes) -> dict | None:
    """What an unauthenticated call sent, without what it said: size, hash, field names."""
    if not raw:
        return None
    summary: dict[str, Any] = {"redacted": True, "bytes": len(raw),
                               "sha256": hashlib.sha256(raw).hexdigest()}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return summary
    if isinstance(parsed, dict):
        summary["fields"] = sorted(_scrub(str(k))[:64] for k in parsed)[:20]
    return summary


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return _scrub(json.loads(raw))
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
        return {"unparseable_body": _scrub(raw[:500].decode("utf-8", "replace"))}


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    """PostgreSQL text and jsonb hold neither NUL characters nor lone UTF-16 surrogates (JSON's
    "\\ud800" decodes to one; UTF-8 cannot encode it): show them as U+FFFD instead."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _target(path: str, body: Any) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[1] == "payouts":
        return parts[3]
    if len(parts) >= 4 and parts[1] == "webhooks" and parts[2] == "endpoints":
        return parts[3]
    if len(parts) >= 3 and parts[1] == "webhooks":
        return parts[2]
    if isinstance(body, dict):
        for key in ("intentId", "transactionId", "programId"):
            if isinstance(body.get(key), str):
                return body[key][:200]
    if len(parts) >= 3 and parts[1] == "queue":
        return "settlement"
    return None
