"""A correction is posted once, whatever happens to the answer: the admin API's Idempotency-Key
(the same key again answers with the first correction and posts nothing; a key reused for other
money is refused), and the console's use of it — a confirmation whose answer was lost leaves the
request waiting, and confirming it again, by anyone, posts nothing twice. Real API over HTTP,
real PostgreSQL; the lost answer is a real client timeout behind a real table lock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from sge_recon.admin_client import AdminClient
from sge_recon.console import ConsoleService
from sge_recon.context import Recon

from .conftest import settings_for
from .platform_helpers import ADMIN, KEYS, hold_table_lock
from .test_console_actions import acting_as, actions, api  # noqa: F401 - fixture

ROWS = [{"account": "user:u1", "type": "debit", "amount": "2500", "currency": "USD"},
        {"account": "treasury", "type": "credit", "amount": "2500", "currency": "USD"}]


def corrections(db) -> list[dict]:
    return db.fetch_all("SELECT c.transaction_id, sum(e.amount) FILTER (WHERE e.type = 'debit')"
                        " AS debits FROM public.ledger_corrections c JOIN public.ledger_entries e"
                        " USING (transaction_id) GROUP BY 1 ORDER BY 1")


def post(api_url: str, program_id: str, key: str | bytes | None, rows=ROWS,
         reason="Reverse it"):
    headers = {**ADMIN, **({"Idempotency-Key": key} if key is not None else {})}
    return httpx.post(f"{api_url}/admin/ledger/corrections", headers=headers, timeout=30,
                      json={"programId": program_id, "reason": reason, "entries": rows})


def test_the_same_key_answers_with_the_first_correction_and_posts_nothing(db, factory,
                                                                          api):  # noqa: F811
    program = factory.program()["id"]
    first = post(api, program, "fix-2026-11-26-1")
    assert first.status_code == 200 and "replayed" not in first.json()
    again = post(api, program, "fix-2026-11-26-1", reason="typed again, other words")
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["transactionId"] == first.json()["transactionId"]
    assert "Nothing was posted again" in again.json()["message"]
    # 5 and 5.00 are the same money: still the same request
    same_money = post(api, program, "fix-2026-11-26-1",
                      rows=[{**r, "amount": "2500.00"} for r in ROWS])
    assert same_money.status_code == 200 and same_money.json()["replayed"] is True
    other = post(api, program, "fix-2026-11-26-1", rows=[{**r, "amount": "25"} for r in ROWS])
    assert other.status_code == 409 and "already used for another request" in other.json()["error"]
    assert [c["debits"] for c in corrections(db)] == [Decimal("2500")]
    without = post(api, program, None)  # no key: every request is a new correction
    assert without.status_code == 200 and len(corrections(db)) == 2


def test_twenty_requests_at_once_with_one_key_post_one_correction(db, factory,
                                                                   api):  # noqa: F811
    program = factory.program()["id"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post(api, program, "burst-1"), range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert len({a.json()["transactionId"] for a in answers}) == 1
    assert sum(1 for a in answers if not a.json().get("replayed")) == 1
    assert [c["debits"] for c in corrections(db)] == [Decimal("2500")]


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "ключ".encode(), "a\tb", "-lead"])
def test_a_malformed_key_is_refused_before_anything_is_posted(db, factory, api,  # noqa: F811
                                                              key):
    program = factory.program()["id"]
    answer = post(api, program, key)
    assert answer.status_code == 422, answer.text
    assert "Idempotency-Key" in answer.text
    assert corrections(db) == []


def hold_ledger_lock(db_url: str, seconds: float) -> threading.Thread:
    """A session that blocks every insert into the ledger for ``seconds`` (the API's write waits
    behind it, so a short client timeout loses the answer of a correction that is then made)."""
    return hold_table_lock(db_url, "public.ledger_entries", seconds)


def test_a_confirmation_whose_answer_is_lost_stays_waiting_and_posts_once(
        db_url, db, factory, api):  # noqa: F811
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "5000"), ("user:u1", "credit", "5000")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin", carol="admin", root="admin")
    console = ConsoleService(recon.settings, recon.databases, recon.checks, recon.incidents,
                             freshness=recon.replica_freshness,
                             client_factory=lambda: AdminClient.from_settings(recon.settings,
                                                                              timeout=1.5))
    desk = console.corrections
    assert desk.submit("ada", program, "Reverse a double posting", ROWS).ok
    [waiting] = desk.pending()

    lock = hold_ledger_lock(db_url, 4)
    lost = desk.confirm("bob", waiting["id"])
    assert not lost.ok and lost.maybe_done, lost.message
    assert "did not answer in time" in lost.message and "confirm it again" in lost.message
    assert [w["id"] for w in desk.pending()] == [waiting["id"]]  # not marked failed
    lock.join()
    deadline = time.monotonic() + 20
    while not corrections(db) and time.monotonic() < deadline:
        time.sleep(0.1)  # the API finishes the write it was waiting to make
    assert len(corrections(db)) == 1

    again = desk.confirm("carol", waiting["id"])
    assert again.ok and "Nothing was posted again" in again.message, again.message
    assert desk.pending() == []
    assert [c["debits"] for c in corrections(db)] == [Decimal("2500")]  # once, not twice
    logged = [(r["action"], r["operator"], r["result"]) for r in actions(db)]
    assert logged == [("request_correction", "ada", "ok"), ("ledger_correction", "bob", "unknown"),
                      ("ledger_correction", "carol", "ok")]


def test_the_same_correction_sent_twice_at_once_is_one_and_a_changed_one_is_new(
        db_url, db, factory, api):  # noqa: F811
    """Two submissions of one correction while the first has no answer yet (a second click, a
    second tab) carry one Idempotency-Key (recon.correction_attempts): posted once."""
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    recon = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS))
    acting_as(db_url, ada="admin", bob="admin", carol="admin", root="admin")
    desk = recon.console.corrections
    small = [{**r, "amount": "20"} for r in ROWS]
    lock = hold_ledger_lock(db_url, 3)  # both are sent before the first is answered
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda rows: desk.submit("ada", program, "Refund", rows),
                                 [small, [{**r, "amount": "20.00"} for r in small]])
    lock.join()
    assert first.ok and second.ok, (first.message, second.message)
    assert sum("Nothing was posted again" in o.message for o in (first, second)) == 1
    assert len(corrections(db)) == 1
    assert db.fetch_all("SELECT 1 FROM recon.correction_attempts") == []  # both answered
    changed = desk.submit("ada", program, "Refund", [{**r, "amount": "21"} for r in ROWS])
    assert changed.ok and "Nothing was posted again" not in changed.message
    assert len(corrections(db)) == 2
