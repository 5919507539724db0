"""One Idempotency-Key per intended ledger correction (audit D3), kept by the library in
recon.correction_attempts rather than by a browser session: a correction whose answer was lost
and that is sent again from a new session (a page reload) is posted once; once an answer said
what happened, an identical correction is a new one and is posted. Real admin API over HTTP,
real PostgreSQL; the lost answer is a real client timeout behind a real table lock."""

from __future__ import annotations

import time

from sge_recon.admin_client import AdminClient
from sge_recon.console import ConsoleService
from sge_recon.context import Recon

from .conftest import settings_for
from .platform_helpers import KEYS
from .test_console_actions import acting_as, actions, api  # noqa: F401 - fixture
from .test_corrections_idempotency import corrections, hold_ledger_lock

ROWS = [{"account": "user:u1", "type": "debit", "amount": "20", "currency": "USD"},
        {"account": "treasury", "type": "credit", "amount": "20", "currency": "USD"}]


def desk_for(db_url: str, api_url: str, timeout: float):
    """The correction form's library as a new console session/process would build it."""
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api_url, **KEYS))
    console = ConsoleService(recon.settings, recon.databases, recon.checks, recon.incidents,
                             freshness=recon.replica_freshness,
                             client_factory=lambda: AdminClient.from_settings(recon.settings,
                                                                              timeout=timeout))
    return console.corrections


def pending_attempts(db) -> list[dict]:
    return db.fetch_all("SELECT operator, program_id, request_key FROM recon.correction_attempts")


def wait_for(db, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(corrections(db)) < count and time.monotonic() < deadline:
        time.sleep(0.1)  # the API finishes the write it was waiting to make


def test_a_lost_answer_then_a_reload_posts_the_correction_once(db_url, db, factory,
                                                               api):  # noqa: F811
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    acting_as(db_url, ada="admin")
    lock = hold_ledger_lock(db_url, 3)  # the API is slow: the console gives up
    first = desk_for(db_url, api, timeout=1.5).submit("ada", program, "Refund fee", ROWS,
                                                      attempt="session-1-token")
    assert not first.ok and first.maybe_done, first.message
    assert "reuses its Idempotency-Key" in first.message
    [pending] = pending_attempts(db)
    assert (pending["operator"], pending["program_id"]) == ("ada", program)
    lock.join()
    wait_for(db, 1)
    assert len(corrections(db)) == 1  # the first one was made after all

    # a reload: a new session (and token), a new console process; the same form sent again
    again = desk_for(db_url, api, timeout=15).submit("ada", program, "Refund fee", ROWS,
                                                     attempt="session-2-token")
    assert again.ok and "Nothing was posted again" in again.message, again.message
    assert "your unanswered attempt" in again.message
    assert len(corrections(db)) == 1
    assert pending_attempts(db) == []  # answered: forgotten
    keys = [r["request"]["idempotencyKey"] for r in actions(db)]
    assert keys == [pending["request_key"]] * 2

    # now an intended identical correction: a new one, posted
    third = desk_for(db_url, api, timeout=15).submit("ada", program, "Refund fee", ROWS)
    assert third.ok and "Nothing was posted again" not in third.message, third.message
    assert len(corrections(db)) == 2 and pending_attempts(db) == []


def test_an_identical_correction_after_an_answer_is_posted_again(db_url, db, factory,
                                                                 api):  # noqa: F811
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    acting_as(db_url, ada="admin", bob="admin")
    desk = desk_for(db_url, api, timeout=15)
    one = desk.submit("ada", program, "Monthly fee", ROWS, attempt="session-token")
    two = desk.submit("ada", program, "Monthly fee", ROWS, attempt="session-token")
    assert one.ok and two.ok, (one.message, two.message)
    assert "Nothing was posted again" not in one.message + two.message
    assert len(corrections(db)) == 2
    keys = [r["request"]["idempotencyKey"] for r in actions(db)]
    assert len(set(keys)) == 2 and pending_attempts(db) == []


def test_a_refusal_is_an_answer_too(db_url, db, factory, api):  # noqa: F811
    """A refused correction (here: the account was disabled) is forgotten: sent again once the
    account may, it is a new correction and is posted."""
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    acting_as(db_url, ada="admin")
    accounts = AccountService(Database(db_url))
    desk = desk_for(db_url, api, timeout=15)
    accounts.set_disabled("ada", True)
    refused = desk.submit("ada", program, "Refund fee", ROWS)
    assert not refused.ok and not refused.maybe_done and "disabled" in refused.message
    assert pending_attempts(db) == [] and corrections(db) == []
    accounts.set_disabled("ada", False)
    posted = desk.submit("ada", program, "Refund fee", ROWS)
    assert posted.ok and len(corrections(db)) == 1
