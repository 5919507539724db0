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
``recon.sign_in_attempts`` (a name that is no account only as a hash: it is often a password
typed into the username field); after ``MAX_FAILURES`` failures within ``WINDOW_SECONDS`` a name is
locked (even the right password is refused) until the window has passed.

Single sign-on (OpenID Connect, through Streamlit's ``st.login``, when ``OIDC_*`` is configured):
the provider proves who someone is, and the account linked to that identity
(``sge-recon users add NAME --role R --sso IDENTITY`` or ``users link-sso NAME IDENTITY``)
decides what they may do — its role, its approver key, its disabled state — exactly as for a
local sign-in. An identity linked to no account, or to a disabled one, is refused. The identity is
one claim of the ID token (``OIDC_IDENTITY_CLAIM``, by default ``email``; an email is used only
when the provider marks it verified: ``email_verified`` true or "true").
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .db import DriverError
from .db import accounts as q
from .db import action_log, payouts
from .db.accounts import check_platform_id
from .errors import DatabaseUnavailable, NotFoundError, ReconError, UsageError, first_line
from .passwords import (  # noqa: F401 - re-exported: tests import them here
    _DUMMY_HASH, hash_password, normal_password, verify_password)
from .sso_claims import (  # noqa: F401 - re-exported: the console and tests import them here
    check_sso_identity, email_verified, identity_from_claims)

if TYPE_CHECKING:
    from .db import Database

ROLES = ("viewer", "operator", "approver", "admin")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
SESSION_SECONDS = 12 * 3600  # a sign-in lasts a working day (a reload or a new tab keeps it)

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




@dataclass(frozen=True)
class Account:
    name: str
    role: str
    approver_slot: int | None
    created_at: datetime
    disabled: bool
    sso_identity: str | None = None
    timezone: str | None = None  # the viewer's chosen timezone (IANA name); None: UTC
    platform_id: str | None = None  # the person's admin id on the platform (SGE's X-Admin-Id)
    password_set_at: datetime | None = None  # as read: a session binds to it (start_session)

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
                   row["disabled"], row.get("sso_identity"), row.get("timezone"),
                   row.get("platform_id"), row.get("password_set_at"))


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unknown_name(typed: str, key: str) -> str:
    """How a sign-in under a name that is no account is recorded: ``unknown:`` and an
    HMAC-SHA256 of it under the database's own key (``recon.sign_in_name_key``, which the
    readers of recon cannot read), never the text typed: it is often a password typed into the
    username field, and a plain hash of it would let anyone who reads the attempts test guessed
    passwords against it."""
    return "unknown:" + hmac.new(key.encode(), typed.encode(), hashlib.sha256).hexdigest()[:16]


def check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME_PATTERN.match(name):
        raise UsageError(f"account name {name!r} is not valid: use 1-64 lower-case letters, digits "
                         "and . _ @ - (starting with a letter or digit)")
    return name


@functools.lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """The timezones a viewer may choose: UTC first, then every IANA Area/Location zone."""
    from zoneinfo import available_timezones

    return ("UTC",) + tuple(sorted(z for z in available_timezones() if z != "UTC" and "/" in z
                                   and not z.startswith(("Etc/", "SystemV/"))))


def check_timezone(zone: str) -> str:
    """An IANA timezone name (Europe/Berlin, America/New_York, UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = (zone or "").strip()
    try:
        if not zone or zone.startswith(("/", ".")) or ".." in zone:
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise UsageError(f"unknown timezone {zone!r}: use an IANA name such as UTC, "
                         "Europe/Berlin or America/New_York") from None
    return zone


def check_password(password: str) -> str:
    if not (password or "").strip():
        raise UsageError("the password is empty or only spaces; type a real password (at least "
                         f"{MIN_PASSWORD} characters)")
    if len(normal_password(password)) < MIN_PASSWORD:
        raise UsageError(f"the password must be at least {MIN_PASSWORD} characters long")
    return password


class AccountService:
    def __init__(self, db: "Database"):
        self.db = db

    def _tx(self, work, read_only: bool = False, change: bool = False):
        try:
            with self.db.transaction(read_only=read_only) as conn:
                if change:  # checks, then writes: one such change at a time
                    q.lock_account_changes(conn)
                return work(conn)
        except DriverError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(f"the accounts could not be read or written ({first}); "
                                      "check that PostgreSQL is up and `sge-recon db init` has "
                                      "run") from None

    # -- management (the CLI) -----------------------------------------------------------------
    # ``by``: who makes the change (the CLI: ``cli:<OS user>``); it is then recorded in
    # recon.action_log in the same transaction (action, ``account:<name>``, what changed, never
    # a password or its hash).
    @staticmethod
    def _audit(conn, by: str | None, action: str, name: str, request: dict | None) -> None:
        if by:
            action_log.record_action(conn, operator=by, action=action, target=f"account:{name}",
                                     request=request, result="ok", status_code=None,
                                     response=None, error=None)

    def add(self, name: str, role: str, password: str | None,
            approver_slot: int | None = None, replace: bool = False,
            sso_identity: str | None = None, by: str | None = None,
            platform_id: str | None = None) -> Account:
        """A new account. ``password`` None: it signs in only through single sign-on, as
        ``sso_identity`` (one of the two is needed). ``platform_id``: the person's admin id on
        the platform (SGE's X-Admin-Id)."""
        name = check_name(name)
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if role == "approver" and approver_slot not in (1, 2):
            raise UsageError("an approver account needs --approver-key 1 or 2: which payout "
                             "approver key (PAYOUT_APPROVER_1 or _2) its approvals use")
        if role != "approver" and approver_slot is not None:
            raise UsageError("--approver-key is only for accounts with --role approver")
        if sso_identity is not None:
            sso_identity = check_sso_identity(sso_identity)
        if password is None and sso_identity is None:
            raise UsageError("an account needs a password, or a single sign-on identity (--sso)")
        hashed = hash_password(check_password(password)) if password is not None else None
        platform_id = check_platform_id(platform_id) if platform_id is not None else None

        values = (name, role, approver_slot, hashed, sso_identity, platform_id)

        def work(conn):
            if sso_identity:
                self._check_sso_free(conn, sso_identity, name)
            if platform_id:
                q.check_platform_id_free(conn, platform_id, name)
            if approver_slot:
                holder = q.slot_holder(conn, approver_slot)
                if holder and holder["name"] != name:
                    raise UsageError(f"approver key {approver_slot} is already held by "
                                     f"{holder['name']!r}; disable that account first (one "
                                     "account per key, so one person can never give both "
                                     "approvals)")
                self._check_no_open_approvals(conn, name, approver_slot)
            self._audit(conn, by, "add_account", name, {
                "role": role, "approverKey": approver_slot, "sso": sso_identity,
                "password": password is not None, "replace": replace, "platformId": platform_id})
            if replace:  # a new password and role: sessions of the old ones end
                q.revoke_sessions_of(conn, name)
                return q.upsert_account(conn, *values)
            if q.account(conn, name):
                raise UsageError(f"an account named {name!r} already exists; use `sge-recon "
                                 f"users set-password {name}` to change its password, or add "
                                 "--replace to give it this role (its sessions end)")
            return q.insert_account(conn, *values)
        return _account(self._tx(work, change=True))

    @staticmethod
    def _check_no_open_approvals(conn, name: str, slot: int) -> None:
        """Refuse binding ``name`` to approver key ``slot`` while it has approved (or may have:
        the answer was lost) with the other key a batch that is not executed or rejected yet:
        with both keys one person could give both approvals of that batch. Waits for an approval
        of the account still in flight (its approver lock), so none is missed."""
        q.lock_approver(conn, name)
        other = sorted({a["batch_id"] for a in action_log.approval_attempts(conn, name)
                        if a["approver_key"] is not None and a["approver_key"] != str(slot)})
        if not other:
            return
        try:
            with conn.transaction():  # a savepoint: the platform may not be readable here
                statuses = payouts.batch_statuses(conn, other)
        except DriverError as exc:
            raise UsageError(f"{name!r} has approved payout batches with another approver key "
                             f"({', '.join(other[:10])}) and their status could not be read "
                             f"({first_line(exc)}), so it was not bound to approver key {slot}; "
                             "try again when the platform's tables can be read") from None
        still = [b for b in other if statuses.get(b, "executed") not in ("executed", "rejected")]
        if still:
            raise UsageError(f"{name!r} has approved payout batch(es) {', '.join(still)} with "
                             "another approver key (or may have: an answer was lost), and they "
                             "are not executed or rejected yet; bound to approver key "
                             f"{slot} it could give their second approval too (one person, both "
                             "approvals). Nothing was changed: bind it once those batches are "
                             "executed or rejected")

    @staticmethod
    def _check_sso_free(conn, identity: str, name: str) -> None:
        holder = q.sso_holder(conn, identity)
        if holder and holder["name"] != name:
            raise UsageError(f"the single sign-on identity {identity!r} is already linked to "
                             f"{holder['name']!r}; unlink it there first (`sge-recon users "
                             f"unlink-sso {holder['name']}`)")

    def link_sso(self, name: str, identity: str | None, by: str | None = None) -> Account:
        """Link an account to a single sign-on identity (None: unlink)."""
        name = check_name(name)
        identity = check_sso_identity(identity) if identity is not None else None

        def work(conn):
            row = q.account(conn, name)
            if row is None:
                raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
            if identity is None and row["sso_identity"] is None:
                return row  # nothing to unlink: nothing changes, so nothing is audited
            if identity is None and row["password_hash"] is None:
                raise UsageError(f"{name!r} has no password, so without single sign-on nobody "
                                 f"could sign in as it; set one first (`sge-recon users "
                                 f"set-password {name}`) or disable it")
            if identity:
                self._check_sso_free(conn, identity, name)
            # another identity (or none): the sign-ins made through the old link end
            changed = (identity or "").lower() != (row["sso_identity"] or "").lower()
            ended = q.revoke_sessions_of(conn, name) if changed else 0
            self._audit(conn, by, "link_sso" if identity else "unlink_sso", name,
                        {"sso": identity, "before": row["sso_identity"], "sessionsEnded": ended})
            return q.set_sso_identity(conn, name, identity)
        return _account(self._tx(work, change=True))

    def set_platform_id(self, name: str, platform_id: str | None,
                        by: str | None = None) -> Account:
        """The person's admin id on the platform (None: clear it), recorded like other changes."""
        name = check_name(name)
        platform_id = check_platform_id(platform_id) if platform_id is not None else None

        def work(conn):
            if (row := q.account(conn, name)) is None:
                raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
            if platform_id:
                q.check_platform_id_free(conn, platform_id, name)
            self._audit(conn, by, "set_platform_id", name,
                        {"platformId": platform_id, "before": row["platform_id"]})
            return q.set_platform_id(conn, name, platform_id)
        return _account(self._tx(work, change=True))

    def list(self) -> list[Account]:
        return [_account(r) for r in self._tx(q.accounts, read_only=True)]

    def get(self, name: str) -> Account | None:
        row = self._tx(lambda c: q.account(c, (name or "").strip().lower()), read_only=True)
        return _account(row) if row else None

    def any(self) -> bool:
        return self._tx(q.any_account, read_only=True)

    def set_password(self, name: str, password: str, by: str | None = None) -> Account:
        """A new password; every session signed in with the old one ends (a reset is what
        someone does when a password or a session may be known to someone else)."""
        name = check_name(name)
        hashed = hash_password(check_password(password))

        def work(conn):
            row = q.set_password(conn, name, hashed)
            if row is not None:
                ended = q.revoke_sessions_of(conn, name)
                self._audit(conn, by, "set_password", name, {"sessionsEnded": ended})
            return row
        row = self._tx(work)
        if row is None:
            raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
        return _account(row)

    def set_disabled(self, name: str, disabled: bool = True, by: str | None = None) -> Account:
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
            # disabled: its sign-ins end for good (enabling it again does not bring them back)
            ended = q.revoke_sessions_of(conn, name) if disabled else 0
            self._audit(conn, by, "disable_account" if disabled else "enable_account", name,
                        {"wasDisabled": row["disabled"], "sessionsEnded": ended})
            return q.set_disabled(conn, name, disabled)
        return _account(self._tx(work, change=True))

    def set_timezone(self, name: str, zone: str | None) -> Account:
        """The timezone the console shows this account's times in (None: UTC)."""
        zone = check_timezone(zone) if zone else None
        row = self._tx(lambda c: q.set_timezone(c, check_name(name), zone))
        if row is None:
            raise NotFoundError(f"no account named {name!r}; see `sge-recon users list`")
        return _account(row)

    def attempts(self, limit: int = 100) -> builtins.list[dict]:  # `list` is a method here
        return self._tx(lambda c: q.attempts(c, limit), read_only=True)

    # -- sessions (a reload or a new tab keeps the sign-in) ------------------------------------
    def start_session(self, name: str, verified: Account | None = None) -> str:
        """A new random session token for a signed-in account; recon keeps only its SHA-256.
        ``verified``: the account as its sign-in checked it; refused if its password or SSO link
        changed since (a reset at that moment must end this sign-in too) or it was disabled."""
        token = secrets.token_urlsafe(32)
        check = (verified.password_set_at, verified.sso_identity) if verified else None
        if not self._tx(lambda c: q.create_session(c, _sha256(token), check_name(name),
                                                   SESSION_SECONDS, check)):
            raise UsageError(f"the password or single sign-on link of {name!r} was changed, or "
                             "the account disabled, while you signed in; sign in again")
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
        if not typed:
            return SignIn(False, None, "Type your username and password.")

        def work(conn):
            # a name that is no account is recorded (and locked) as a hash only: it is often a
            # password typed into the username field, and recon.sign_in_attempts is readable
            # by every reader of recon (auditors, BI)
            row = q.account(conn, typed)
            name = typed if row is not None else unknown_name(typed, q.sign_in_name_key(conn))
            q.lock_name(conn, name)  # one attempt per name at a time: the count below is exact
            failures = q.recent_failures(conn, name, WINDOW_SECONDS)
            if int(failures["failures"] or 0) >= MAX_FAILURES:
                wait = max(60, WINDOW_SECONDS - int(failures["age_seconds"] or 0))
                q.record_attempt(conn, name, False, "rate_limited")
                return SignIn(False, None, f"Too many failed sign-ins for {typed!r}: try again in "
                                           f"{(wait + 59) // 60} min, or ask an admin to reset "
                                           "your password.")
            if not password:  # recorded, and counts towards the lock like any wrong password
                q.record_attempt(conn, name, False, "empty_password")
                return SignIn(False, None, "Type your username and password.")
            # an account without a password (single sign-on only) costs the same hash, and fails
            good = verify_password(password, (row or {}).get("password_hash") or _DUMMY_HASH) \
                and bool(row and row["password_hash"])
            if row is None or not good:
                q.record_attempt(conn, name, False, "unknown" if row is None else
                                 "wrong_password")
                return SignIn(False, None, "Wrong username or password.")
            if row["disabled"]:
                q.record_attempt(conn, name, False, "disabled")
                return SignIn(False, None, "This account is disabled; ask an admin.")
            q.record_attempt(conn, name, True, None)
            return SignIn(True, _account(row), f"Signed in as {row['name']}.")
        try:
            return self._tx(work)
        except ReconError as exc:
            return SignIn(False, None, f"Sign-in is unavailable: {exc.message}")

    def sso_sign_in(self, identity: str, provider: str = "single sign-on",
                    claim: str = "email") -> SignIn:
        """A person the identity provider signed in as ``identity`` (the value of the ID
        token's ``claim``): the account linked to it, or a refusal that says what to do. An
        email matches its link in any case of its ASCII letters; any other claim (sub: the
        provider's subject id, case-sensitive) only exactly. Every attempt is recorded (username
        ``sso:<id>``)."""
        shown = (identity or "").strip()[:200]
        recorded = ("sso:" + shown)[:64]

        def work(conn):
            row = q.sso_account(conn, shown, claim == "email") if shown else None
            if row is None:
                q.record_attempt(conn, recorded, False, "sso_unknown")
                return SignIn(False, None, f"{provider} signed you in as {shown!r}, but no "
                              "console account is linked to that identity, so the console "
                              "refuses it. Ask an admin to link one: `sge-recon users link-sso "
                              f"NAME {shown}` (or `users add NAME --role viewer --sso {shown}`).")
            if row["disabled"]:
                q.record_attempt(conn, recorded, False, "disabled")
                return SignIn(False, None, f"The console account {row['name']!r} linked to "
                              f"{shown!r} is disabled; ask an admin.")
            q.record_attempt(conn, recorded, True, None)
            return SignIn(True, _account(row), f"Signed in as {row['name']}.")
        try:
            return self._tx(work)
        except ReconError as exc:
            return SignIn(False, None, f"Sign-in is unavailable: {exc.message}")
