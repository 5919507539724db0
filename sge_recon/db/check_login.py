"""The login the checks run under when the configured one is a superuser.

Every check runs as the group role sge_recon_readonly in a read-only transaction (db.checks).
Under a superuser login that is not enough against a hostile check file: the *session* user may
always take its role back (``set_config('role', 'postgres', true)`` inside the check's own
SELECT), and a function that plans a query of its own at run time (``ts_stat('SELECT …')``)
then reads server files and ``pg_authid`` into the check's failing rows. So when DATABASE_URL's
login is a superuser, the checks connect as ``sge_recon_check`` instead: a login that `db init`
creates with no password, no superuser right and nothing but membership in sge_recon_readonly.
It authenticates where the server trusts the connection without a password (the embedded
server's private socket); elsewhere it cannot sign in, the checks keep the superuser login and
sge-recon says so once, naming the fix (a DATABASE_URL login that is not a superuser).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import DatabaseUnavailable
from .connection import Database

CHECK_LOGIN = "sge_recon_check"
log = logging.getLogger(__name__)
_decided: dict[tuple[str, str], str | None] = {}  # (url, login) -> the checks' URL (None: as is)
_lock = threading.Lock()


def login_url(url: str, user: str) -> str:
    """``url`` (a postgresql:// URL) for another login: the same host, port, database and
    options, without the password (neither in the user info nor as ``?password=``)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k not in ("user", "password")])
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}", query=query))


def checks_database(db: Database, login: str = CHECK_LOGIN) -> Database:
    """``db`` as the checks should read it: under ``login`` when the configured login is a
    superuser and ``login`` signs in, else ``db`` itself. Decided once per URL and process (the
    per-minute run pays no probe), except while the server does not answer: the run then fails
    to connect anyway, and the next one decides."""
    key = (db.url, login)
    with _lock:
        if key not in _decided:
            try:
                _decided[key] = _decide(db, login)
            except DatabaseUnavailable:
                return db
        url = _decided[key]
    return db if url is None else db.with_url(url)


def _decide(db: Database, login: str) -> str | None:
    with db.connect(autocommit=True) as conn:
        row = conn.execute(_LOGINS, (login,)).fetchone()
    if not row or not row["superuser"]:
        return None  # a login without the superuser's rights: there is nothing to take back
    candidate = login_url(db.url, login)
    if not row["ready"]:
        reason = f"there is no login {login} in sge_recon_readonly (`sge-recon db init` makes it)"
    else:
        try:
            with db.with_url(candidate).connect(autocommit=True):
                return candidate
        except DatabaseUnavailable as exc:  # this server wants a password for it
            reason = str(exc)
    log.warning(
        "checks run under the superuser login %s: a check file could take that role back "
        "(the checks cannot sign in as %s: %s). Set DATABASE_URL to a login that is not a "
        "superuser (one in sge_recon_app) to close that; see README, least privilege.",
        row["who"], login, reason)
    return None


# who signs in, and whether the checks' login is ready: a login, no superuser, directly in
# sge_recon_readonly (what `db init` makes it)
_LOGINS = """
SELECT s.rolsuper AS superuser, s.rolname AS who,
       EXISTS (SELECT 1 FROM pg_roles c
               JOIN pg_auth_members m ON m.member = c.oid
               JOIN pg_roles g ON g.oid = m.roleid AND g.rolname = 'sge_recon_readonly'
               WHERE c.rolname = %s AND c.rolcanlogin AND NOT c.rolsuper) AS ready
FROM pg_roles s WHERE s.rolname = session_user
"""
