"""Console accounts (DESIGN §9): local users with a salted scrypt hash and a role, and sign-in.

Roles, each including what the one before it may do except where said:

* ``viewer``   — reads every page; cannot act.
* ``operator`` — the routine actions: retry intents and webhooks, pause/resume the queue, force a
  reconcile, incidents (acknowledge, note, resolve), runbook ticks, fast checks, audit exports.
* ``approver`` — an operator who also approves payout batches, with the one approver key
  (``PAYOUT_APPROVER_1`` or ``_2``, held by the console) that the account is bound to. One active
  account per key, so two approvals always come from two accounts.
* ``admin``    — an operator who also executes payout batches and posts ledger corrections
  (admin key). An admin does not approve.

Passwords: ``hashlib.scrypt`` (n=2**14, r=8, p=1) with a per-user 16-byte salt, compared in
constant time; an unknown name costs the same hash. Failed sign-ins are recorded in
``recon.sign_in_attempts``; after ``MAX_FAILURES`` failures within ``WINDOW_SECONDS`` a name is
locked (even the right password is refused) until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .db import DriverError
from .db import accounts as q
from .errors import DatabaseUnavailable, NotFoundError, ReconError, UsageError

if TYPE_CHECKING:
    from .db import Database

ROLES = ("viewer", "operator", "approver", "admin")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
SESSION_SECONDS = 12 * 3600  # a sign-in lasts a working day (a reload or a new tab keeps it)
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}

# what each role may do (the console asks before showing an action's button enabled)
PERMISSIONS = {
    "act": {"operator", "approver", "admin"},
    "approve": {"approver"},
    "execute": {"admin"},
    "correct": {"admin"},
    "queue": {"admin"},  # pause/resume a BullMQ queue, retry a failed job (issue 17)
}
WHY_NOT = {
    "act": "viewers can look but not act; ask an admin for an operator account",
    "approve": "only an approver account (bound to one approver key) approves payout batches",
    "execute": "only an admin account executes payout batches",
    "correct": "only an admin account posts ledger corrections",
    "queue": "only an admin account pauses, resumes or retries BullMQ queue jobs",
}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 1024 * 1024, dklen=32,
                            **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY_HASH = hash_password("not a password of anyone", b"\0" * 16)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    approver_slot: int | None
    created_at: datetime
    disabled: bool

    def may(self, what: str) -> bool:
        return not self.disabled and self.role in PERMISSIONS[what]

    def why_not(self, what: str) -> str | None:
        if self.may(what):
            return None
        return "this account is disabled" if self.disabled else WHY_NOT[what]

    @property
    def label(self) -> str:
        slot = f", approver key {self.approver_slot}" if self.approver_slot else ""
        return f"{self.name} ({self.role}{slot})"


@dataclass(frozen=True)
class SignIn:
    ok: bool
    account: Account | None
    message: str


def _account(row: dict) -> Account:
    return Account(row["name"], row["role"], row["approver_slot"], row["created_at"],
                   row["disabled"])


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME_PATTERN.match(name):
        raise UsageError(f"account name {name!r} is not valid: use 1-64 lower-case letters, digits "
                         "and . _ @ - (starting with a letter or digit)")
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise UsageError(f"the password must be at least {MIN_PASSWORD} characters long")
    return password


class AccountService:
    def __init__(self, db: "Database"):
        self.db = db

    def _tx(self, work, read_only: bool = False):
        try:
            with self.db.transaction(read_only=read_only) as conn:
                return work(conn)
        except DriverError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(f"the accounts could not be read or written ({first}); "
                                      "check that PostgreSQL is up and `sge-recon db init` has "
                                      "run") from None

    # -- management (the CLI) -----------------------------------------------------------------
    def add(self, name: str, role: str, password: str, approver_slot: int | None = None,
            replace: bool = False) -> Account:
        name = check_name(name)
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if role == "approver" and approver_slot not in (1, 2):
            raise UsageError("an approver account needs --approver-key 1 or 2: which payout "
                             "approver key (PAYOUT_APPROVER_1 or _2) its approvals use")
        if role != "approver" and approver_slot is not None:
            raise UsageError("--approver-key is only for accounts with --role approver")
        check_password(password)
        hashed = hash_password(password)

        def work(conn):
            if approver_slot:
                holder = q.slot_holder(conn, approver_slot)
                if holder and holder["name"] != name:
                    raise UsageError(f"approver key {approver_slot} is already held by "
                                     f"{holder['name']!r}; disable that account first (one "
                                     "account per key, so one person can never give both "
                                     "approvals)")
            if replace:
                return q.upsert_account(conn, name, role, approver_slot, hashed)
            if q.account(conn, name):
                raise UsageError(f"an account named {name!r} already exists; use `sge-recon "
                                 f"users set-password {name}` to change its password")
            return q.insert_account(conn, name, role, approver_slot, hashed)
        return _account(self._tx(work))

    def list(self) -> list[Account]:
        return [_account(r) for r in self._tx(q.accounts, read_only=True)]

    def get(self, name: str) -> Account | None:
        row = self._tx(lambda c: q.account(c, (name or "").strip().lower()), read_only=True)
        return _account(row) if row else None

    def any(self) -> bool:
        return self._tx(q.any_account, read_only=True)

    def set_password(self, name: str, password: str) -> Account:
        name = check_name(name)
        check_password(password)
        row = self._tx(lambda c: q.set_password(c, name, hash_password(password)))
        if row is None:
            raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
        return _account(row)

    def set_disabled(self, name: str, disabled: bool = True) -> Account:
        name = check_name(name)

        def work(conn):
            row = q.account(conn, name)
            if row is None:
                raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
            if not disabled and row["approver_slot"]:
                holder = q.slot_holder(conn, row["approver_slot"])
                if holder and holder["name"] != name:
                    raise UsageError(f"approver key {row['approver_slot']} is held by "
                                     f"{holder['name']!r} now; disable that account first")
            return q.set_disabled(conn, name, disabled)
        return _account(self._tx(work))

    def attempts(self, limit: int = 100) -> list[dict]:
        return self._tx(lambda c: q.attempts(c, limit), read_only=True)

    # -- sessions (a reload or a new tab keeps the sign-in) ------------------------------------
    def start_session(self, name: str) -> str:
        """A new random session token for a signed-in account; recon keeps only its SHA-256."""
        token = secrets.token_urlsafe(32)
        self._tx(lambda c: q.create_session(c, _sha256(token), check_name(name),
                                            SESSION_SECONDS))
        return token

    def resume(self, token: str | None) -> Account | None:
        if not token or len(token) > 200:
            return None
        row = self._tx(lambda c: q.session_account(c, _sha256(token)), read_only=True)
        return _account(row) if row else None

    def end_session(self, token: str | None) -> None:
        if token:
            self._tx(lambda c: q.revoke_session(c, _sha256(token)))

    # -- sign-in (the console) ----------------------------------------------------------------
    def sign_in(self, username: str, password: str) -> SignIn:
        """Check a name and password; every attempt is recorded; repeated failures lock."""
        typed = " ".join((username or "").split()).lower()[:64]
        if not typed or not password:
            return SignIn(False, None, "Type your username and password.")

        def work(conn):
            failures = q.recent_failures(conn, typed, WINDOW_SECONDS)
            if int(failures["failures"] or 0) >= MAX_FAILURES:
                wait = max(60, WINDOW_SECONDS - int(failures["age_seconds"] or 0))
                q.record_attempt(conn, typed, False, "rate_limited")
                return SignIn(False, None, f"Too many failed sign-ins for {typed!r}: try again in "
                                           f"{(wait + 59) // 60} min, or ask an admin to reset "
                                           "your password.")
            row = q.account(conn, typed)
            good = verify_password(password, row["password_hash"] if row else _DUMMY_HASH)
            if row is None or not good:
                q.record_attempt(conn, typed, False, "unknown" if row is None else
                                 "wrong_password")
                return SignIn(False, None, "Wrong username or password.")
            if row["disabled"]:
                q.record_attempt(conn, typed, False, "disabled")
                return SignIn(False, None, "This account is disabled; ask an admin.")
            q.record_attempt(conn, typed, True, None)
            return SignIn(True, _account(row), f"Signed in as {row['name']}.")
        try:
            return self._tx(work)
        except ReconError as exc:
            return SignIn(False, None, f"Sign-in is unavailable: {exc.message}")
