"""Data access for the console's local accounts and sign-in attempts (recon, migrations 0010 and
0026: the single sign-on identity linked to an account; 0038: the person's platform admin id)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import DatabaseUnavailable, UsageError
from .connection import DriverError

USER_COLUMNS = "name, role, approver_slot, password_hash, created_at, password_set_at, disabled, " \
               "disabled_at, sso_identity, timezone, platform_id"


def account(conn, name: str) -> dict | None:
    return conn.execute(f"SELECT {USER_COLUMNS} FROM recon.console_users WHERE name = %s",
                        (name,)).fetchone()


def accounts(conn) -> list[dict]:
    return conn.execute(f"SELECT {USER_COLUMNS} FROM recon.console_users ORDER BY name").fetchall()


def any_account(conn) -> bool:
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM recon.console_users) AS any")
                .fetchone()["any"])


def slot_holder(conn, slot: int) -> dict | None:
    return conn.execute("SELECT name FROM recon.console_users WHERE approver_slot = %s "
                        "AND NOT disabled", (slot,)).fetchone()


def sso_holder(conn, identity: str) -> dict | None:
    """The account whose linked identity is ``identity`` in any case, Unicode case folding
    included (the unique index's comparison): who blocks linking it to another account."""
    return conn.execute(f"SELECT {USER_COLUMNS} FROM recon.console_users "
                        "WHERE lower(sso_identity) = lower(%s)", (identity,)).fetchone()


def sso_account(conn, identity: str, ignore_ascii_case: bool) -> dict | None:
    """The account a sign-in as ``identity`` is: its linked identity exactly, or (an email)
    differing only in the case of ASCII letters. Never through Unicode case folding (the Kelvin
    sign K is not K) and, for a subject id, never in another case: another person's."""
    return conn.execute(f"""
        SELECT {USER_COLUMNS} FROM recon.console_users
        WHERE lower(sso_identity) = lower(%(i)s)
          AND CASE WHEN %(fold)s
                   THEN lower(sso_identity COLLATE "C") = lower(%(i)s COLLATE "C")
                   ELSE sso_identity = %(i)s END""",
                        {"i": identity, "fold": ignore_ascii_case}).fetchone()


def insert_account(conn, name: str, role: str, slot: int | None, password_hash: str | None,
                   sso_identity: str | None = None, platform_id: str | None = None) -> dict:
    return conn.execute(f"""
        INSERT INTO recon.console_users (name, role, approver_slot, password_hash, sso_identity,
                                         platform_id)
        VALUES (%s, %s, %s, %s, %s, %s) RETURNING {USER_COLUMNS}""",
                        (name, role, slot, password_hash, sso_identity, platform_id)).fetchone()


def upsert_account(conn, name: str, role: str, slot: int | None, password_hash: str | None,
                   sso_identity: str | None = None, platform_id: str | None = None) -> dict:
    return conn.execute(f"""
        INSERT INTO recon.console_users (name, role, approver_slot, password_hash, sso_identity,
                                         platform_id)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (name) DO UPDATE SET role = excluded.role,
            approver_slot = excluded.approver_slot, password_hash = excluded.password_hash,
            sso_identity = excluded.sso_identity, platform_id = excluded.platform_id,
            password_set_at = now(), disabled = false, disabled_at = NULL
        RETURNING {USER_COLUMNS}""", (name, role, slot, password_hash, sso_identity,
                                      platform_id)).fetchone()


def platform_id_holder(conn, platform_id: str) -> dict | None:
    """The account that carries a platform admin id (compared exactly: SGE compares exactly)."""
    return conn.execute(f"SELECT {USER_COLUMNS} FROM recon.console_users "
                        "WHERE platform_id = %s", (platform_id,)).fetchone()


def check_platform_id(platform_id: str) -> str:
    """The person's admin id on the platform as SGE takes it in X-Admin-Id: printable ASCII."""
    value = (platform_id or "").strip()  # spaces inside are kept: SGE compares ids exactly
    if not value or len(value) > 200 or not (value.isascii() and value.isprintable()):
        raise UsageError(f"platform id {platform_id!r} is not valid: give the person's admin id "
                         "on the platform (SGE: the X-Admin-Id it records as createdById/"
                         "approvedById, e.g. ops:alice), printable ASCII, at most 200 characters")
    return value


def check_platform_id_free(conn, platform_id: str, name: str) -> None:
    """Refuse a platform id that another account carries: one person, one account."""
    holder = platform_id_holder(conn, platform_id)
    if holder and holder["name"] != name:
        raise UsageError(f"the platform id {platform_id!r} is already carried by "
                         f"{holder['name']!r}: one person, one account (`sge-recon users "
                         f"set-platform-id {holder['name']} --clear` first)")


def set_platform_id(conn, name: str, platform_id: str | None) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.console_users SET platform_id = %s
        WHERE name = %s RETURNING {USER_COLUMNS}""", (platform_id, name)).fetchone()


def set_timezone(conn, name: str, zone: str | None) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.console_users SET timezone = %s
        WHERE name = %s RETURNING {USER_COLUMNS}""", (zone, name)).fetchone()


def set_sso_identity(conn, name: str, identity: str | None) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.console_users SET sso_identity = %s
        WHERE name = %s RETURNING {USER_COLUMNS}""", (identity, name)).fetchone()


def set_password(conn, name: str, password_hash: str) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.console_users SET password_hash = %s, password_set_at = now()
        WHERE name = %s RETURNING {USER_COLUMNS}""", (password_hash, name)).fetchone()


def set_disabled(conn, name: str, disabled: bool) -> dict | None:
    return conn.execute(f"""
        UPDATE recon.console_users
        SET disabled = %s, disabled_at = CASE WHEN %s THEN now() END
        WHERE name = %s RETURNING {USER_COLUMNS}""", (disabled, disabled, name)).fetchone()


def lock_account_changes(conn) -> None:
    """One account change at a time until the transaction ends: each reads what it must not
    break (an approver key's holder, a name, an SSO identity, a platform id) and then writes, so
    a concurrent change (two admins' `users` commands) is seen by its checks, which say what is
    taken, instead of tripping a unique index mid-write."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('recon.console_users', 0))")


def lock_name(conn, username: str) -> None:
    """Serialise sign-in attempts for one name until the transaction ends: the failure count
    each attempt reads includes every attempt before it (parallel guesses cannot all read
    "fewer than the limit")."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('recon.sign_in:' || %s, 0))",
                 (username,))


def sign_in_name_key(conn) -> str:
    """The key under which a name that is no account is recorded (migration 0047)."""
    row = conn.execute("SELECT key FROM recon.sign_in_name_key").fetchone()
    if row is None:  # a recon schema behind 0047 is refused before a sign-in; a row deleted by
        raise DatabaseUnavailable(  # hand is said, never recorded under a guessable hash
            "recon.sign_in_name_key has no key: run `sge-recon db init` (migration 0047 makes it)")
    return row["key"]


def record_attempt(conn, username: str, ok: bool, reason: str | None) -> None:
    conn.execute("INSERT INTO recon.sign_in_attempts (username, ok, reason) VALUES (%s, %s, %s)",
                 (username, ok, reason))


def recent_failures(conn, username: str, window_seconds: int) -> dict[str, Any]:
    """Failed attempts for ``username`` since its last success within the window, and when the
    oldest of them happened (the lock lifts ``window`` after it)."""
    return conn.execute("""
        SELECT count(*) AS failures, min(at) AS first_at,
               extract(epoch FROM now() - min(at))::numeric(20,0) AS age_seconds
        FROM recon.sign_in_attempts
        WHERE username = %(u)s AND NOT ok AND at > now() - make_interval(secs => %(w)s)
          AND at > coalesce((SELECT max(at) FROM recon.sign_in_attempts
                             WHERE username = %(u)s AND ok), '-infinity')""",
                        {"u": username, "w": window_seconds}).fetchone()


def attempts(conn, limit: int = 100) -> list[dict]:
    return conn.execute("SELECT id, at, username, ok, reason FROM recon.sign_in_attempts "
                        "ORDER BY id DESC LIMIT %s", (limit,)).fetchall()


def create_session(conn, token_sha256: str, name: str, ttl_seconds: int,
                   verified: tuple[Any, Any] | None = None) -> bool:
    """A session of ``name``; with ``verified`` (the password_set_at and sso_identity a sign-in
    checked) only while the account is enabled and still has them: False when a password reset,
    a new SSO link or a disable came in between. The row is locked (FOR SHARE) until commit, so a
    reset that is writing waits and then ends this session too (revoke_sessions_of)."""
    conn.execute("DELETE FROM recon.console_sessions WHERE expires_at < now() - interval '1 day'")
    return conn.execute("""
        INSERT INTO recon.console_sessions (token_sha256, name, expires_at)
        SELECT %(token)s, name, now() + make_interval(secs => %(ttl)s) FROM (
            SELECT name FROM recon.console_users
            WHERE name = %(name)s AND (NOT %(check)s OR (NOT disabled
                AND password_set_at IS NOT DISTINCT FROM %(set_at)s::timestamptz
                AND sso_identity IS NOT DISTINCT FROM %(sso)s::text))
            FOR SHARE) AS u""",
                        {"token": token_sha256, "ttl": ttl_seconds, "name": name,
                         "check": verified is not None, "set_at": (verified or (None, None))[0],
                         "sso": (verified or (None, None))[1]}).rowcount == 1


def session_account(conn, token_sha256: str) -> dict | None:
    """The account of a live session (not revoked, not expired, account not disabled)."""
    return conn.execute(f"""
        SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))}
        FROM recon.console_sessions s JOIN recon.console_users u ON u.name = s.name
        WHERE s.token_sha256 = %s AND s.revoked_at IS NULL AND s.expires_at > now()
          AND NOT u.disabled""", (token_sha256,)).fetchone()


def revoke_sessions_of(conn, name: str) -> int:
    """End every live session of an account (its password changed): how many."""
    return conn.execute("UPDATE recon.console_sessions SET revoked_at = now() "
                        "WHERE name = %s AND revoked_at IS NULL", (name,)).rowcount


def revoke_session(conn, token_sha256: str) -> None:
    conn.execute("UPDATE recon.console_sessions SET revoked_at = now() "
                 "WHERE token_sha256 = %s AND revoked_at IS NULL", (token_sha256,))


# One lock per console account for its payout approvals: held by an approval from the moment its
# account is checked until its answer is recorded (approving), and by a change of the account's
# approver key while it looks for that account's approvals (lock_approver). So a re-binding never
# misses an approval still waiting for the admin API's answer, and two approvals by one account
# are checked one after the other (the second sees the first's record).
_APPROVER_LOCK = "SELECT pg_advisory{kind}_lock(hashtextextended('recon.approver:' || %s, 0))"
APPROVER_LOCK_WAIT = "60s"  # longer than any admin API call of the console


def lock_approver(conn, name: str) -> None:
    """Take the account's approver lock until the transaction ends."""
    conn.execute(_APPROVER_LOCK.format(kind="_xact"), (name,))


@contextlib.contextmanager
def approving(db, name: str) -> Iterator[None]:
    """Hold the account's approver lock while one approval is checked, sent and recorded (on a
    connection of its own: the approval's own transactions come and go meanwhile). When the
    database cannot be reached no lock is taken: the approval's account check then refuses it."""
    try:
        conn = db.connect(autocommit=True)
    except (DatabaseUnavailable, DriverError):
        yield
        return
    try:
        try:
            conn.execute(f"SET lock_timeout = '{APPROVER_LOCK_WAIT}'")
            conn.execute(_APPROVER_LOCK.format(kind=""), (name,))
        except DriverError:
            raise UsageError(f"another payout approval or approver-key change of {name!r} has "
                             "not finished; try again in a minute (nothing was sent)") from None
        yield
    finally:
        # unlocked explicitly: a closed connection's backend may hold it a moment longer
        with contextlib.suppress(DriverError):
            if not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock_all()")
        conn.close()
