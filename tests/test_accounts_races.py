"""Two `sge-recon users` commands at the same moment (two admins at two terminals), and a
`users set-password` landing while someone signs in with the old password.

Each change reads what it must not break (the approver key's holder, the name, the SSO identity,
the platform id) and then writes: between the two a concurrent command can take what was free.
The loser must be told what happened (as when the commands run one after the other), never
"the accounts could not be read or written (duplicate key …); check that PostgreSQL is up"."""

from __future__ import annotations

import threading
import time

import pytest

from sge_recon.accounts import AccountService
from sge_recon.db import accounts as account_rows
from sge_recon.errors import ReconError, UsageError


def _add_in_thread(service: AccountService, name: str, outcome: dict, **kw) -> threading.Thread:
    def run():
        try:
            outcome[name] = service.add(name, "approver", "a long enough secret", **kw)
        except ReconError as exc:
            outcome[name] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _waiting_on_a_lock(db) -> bool:
    return db.fetch_one("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = "
                        "'Lock' AND datname = current_database()")["n"] > 0


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_two_approvers_added_with_one_key_at_once_one_wins_the_other_is_told(recon, db, first):
    service = AccountService(recon.db)
    second = "bob" if first == "alice" else "alice"
    outcome: dict = {}
    # `first` is paused after its checks (an approval of the same name in flight holds its
    # approver lock), so `second` checks and writes in between, as a command started a moment
    # later on another terminal would
    with account_rows.approving(recon.db, first):
        one = _add_in_thread(service, first, outcome, approver_slot=1)
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(db):
            assert time.monotonic() < deadline, "the first command never reached its lock"
            time.sleep(0.05)
        two = _add_in_thread(service, second, outcome, approver_slot=1)
        two.join(timeout=5)  # it may finish (it wrote first) or wait (the change is serialised)
    one.join(timeout=60)
    two.join(timeout=60)
    assert not one.is_alive() and not two.is_alive()

    holders = [r["name"] for r in db.fetch_all(
        "SELECT name FROM recon.console_users WHERE approver_slot = 1 AND NOT disabled")]
    assert len(holders) == 1
    [loser] = [n for n in (first, second) if n not in holders]
    assert isinstance(outcome[loser], UsageError), outcome[loser]
    assert outcome[loser].message.startswith(
        f"approver key 1 is already held by {holders[0]!r}"), outcome[loser].message
    assert db.fetch_one("SELECT count(*) AS n FROM recon.console_users")["n"] == 1


OLD, NEW = "the old password 123", "a brand new password 456"


def test_a_password_reset_between_sign_in_and_session_ends_that_sign_in(recon, db):
    """The console checks the password (sign_in), then starts the session (start_session): an
    admin's `users set-password` landing in between ended every session but the one about to
    start, so whoever knew the old password kept a live session after the reset."""
    service = AccountService(recon.db)
    service.add("ada", "operator", OLD)
    signed = service.sign_in("ada", OLD)
    assert signed.ok
    service.set_password("ada", NEW, by="cli:admin")
    with pytest.raises(UsageError, match="was changed, or the account disabled, while you signed"):
        service.start_session(signed.account.name, signed.account)
    assert db.fetch_one("SELECT count(*) AS n FROM recon.console_sessions WHERE name = 'ada' "
                        "AND revoked_at IS NULL")["n"] == 0
    again = service.sign_in("ada", NEW)
    assert service.resume(service.start_session(again.account.name, again.account)).name == "ada"


def test_a_session_starting_while_a_reset_is_being_written_waits_and_is_refused(recon, db):
    """The reset's transaction has changed the password and ended the sessions but not committed
    yet: a session starting now must wait for it (and then be refused), not slip in after the
    revocation and survive it."""
    service = AccountService(recon.db)
    service.add("ada", "operator", OLD)
    signed = service.sign_in("ada", OLD)
    outcome: dict = {}

    def start():
        try:
            outcome["token"] = service.start_session(signed.account.name, signed.account)
        except ReconError as exc:
            outcome["error"] = exc

    with recon.db.transaction() as conn:  # what `users set-password` writes, held open
        account_rows.set_password(conn, "ada", "scrypt$not-a-real-hash")
        account_rows.revoke_sessions_of(conn, "ada")
        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(db):
            assert thread.is_alive() and time.monotonic() < deadline, \
                f"the session started beside an uncommitted reset: {outcome}"
            time.sleep(0.05)
    thread.join(timeout=30)
    assert isinstance(outcome.get("error"), UsageError), outcome
    assert db.fetch_one("SELECT count(*) AS n FROM recon.console_sessions WHERE name = 'ada' "
                        "AND revoked_at IS NULL")["n"] == 0
