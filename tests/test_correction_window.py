"""The two-person rule for ledger corrections counts what one admin posts alone within a rolling
24 hours (audit: one admin posted 5,400 USD alone as six corrections of 900, each under the
1,000 threshold). A correction needs the second admin when its own amount per currency and side
plus what the same admin posted alone (direct corrections, not ones a second admin confirmed)
in the previous 24 hours is over CORRECTION_SECOND_PERSON_OVER. Real admin API over HTTP on
127.0.0.1, real PostgreSQL; the race is two threads released by a barrier."""

from __future__ import annotations

import json
import threading

from .console_support import app, open_page, texts
from .platform_helpers import hold_table_lock
from .test_console_actions import acting_as, api, confirm, console, fill_correction  # noqa: F401
from .test_corrections_attempts import desk_for, wait_for
from .test_corrections_idempotency import hold_ledger_lock


def rows(amount: str, currency: str = "USD") -> list[dict]:
    return [{"account": "user:u1", "type": "debit", "amount": amount, "currency": currency},
            {"account": "treasury", "type": "credit", "amount": amount, "currency": currency}]


def posted(db) -> list[str]:
    """The reasons of the corrections the platform posted, oldest first."""
    return [r["reason"] for r in
            db.fetch_all("SELECT reason FROM public.ledger_corrections ORDER BY created_at")]


def ledger_program(factory) -> str:
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "50"), ("user:u1", "credit", "50")])
    return program


def test_six_corrections_of_900_by_one_admin_the_second_waits_for_a_second_admin(
        db_url, db, factory, api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin", bob="admin")
    desk = desk_for(db_url, api, timeout=30)
    first = desk.submit("ada", program, "Part 1 of 6", rows("900"))
    assert first.ok and "request" not in first.message, first.message
    second = desk.submit("ada", program, "Part 2 of 6", rows("900"))
    assert second.ok, second.message
    assert "Correction request #" in second.message and "nothing posted" in second.message
    assert ("with the 900.00 USD (debits) you posted alone in the last 24 hours, this is "
            "1,800.00 USD, over 1,000, so a second admin must confirm it") in second.message
    assert posted(db) == ["Part 1 of 6"]  # nothing was posted for the second
    for n in range(3, 7):
        assert "Correction request #" in desk.submit("ada", program, f"Part {n} of 6",
                                                     rows("900")).message
    assert posted(db) == ["Part 1 of 6"]
    assert [w["reason"] for w in desk.pending()] == [f"Part {n} of 6" for n in range(2, 7)]
    logged = db.fetch_all("SELECT action, result, posted_alone FROM recon.action_log "
                          "WHERE operator = 'ada' ORDER BY id")
    assert [(r["action"], r["result"], r["posted_alone"]) for r in logged] == \
        [("ledger_correction", "ok", True)] + [("request_correction", "ok", False)] * 5


def test_corrections_by_two_different_admins_do_not_add_up(db_url, db, factory,
                                                           api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin", bob="admin")
    desk = desk_for(db_url, api, timeout=30)
    assert "request" not in desk.submit("ada", program, "Ada's fix", rows("900")).message
    assert "request" not in desk.submit("bob", program, "Bob's fix", rows("900")).message
    assert posted(db) == ["Ada's fix", "Bob's fix"]
    assert desk.pending() == []


def test_a_request_a_second_admin_confirmed_counts_against_neither(db_url, db, factory,
                                                                   api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin", bob="admin")
    desk = desk_for(db_url, api, timeout=30)
    requested = desk.submit("ada", program, "Big fix", rows("1500"))
    assert "this correction moves 1,500.00 USD (debits), over 1,000" in requested.message
    [waiting] = desk.pending()
    assert desk.confirm("bob", waiting["id"]).ok
    assert posted(db) == ["Big fix (requested by ada, confirmed by bob)"]
    assert "request" not in desk.submit("ada", program, "Ada alone", rows("900")).message
    assert "request" not in desk.submit("bob", program, "Bob alone", rows("900")).message
    assert len(posted(db)) == 3 and desk.pending() == []



def rewrite_history(db, sql: str) -> None:
    """Re-answer a completed action-log row (this test's fixture): migration 0045's trigger
    refuses that to every login, so the fixture turns triggers off for its own transaction
    (the superuser's session_replication_role)."""
    with db.transaction() as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(sql)

def test_a_correction_older_than_24_hours_does_not_count(db_url, db, factory,
                                                         api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin")
    desk = desk_for(db_url, api, timeout=30)
    assert "request" not in desk.submit("ada", program, "Yesterday's fix", rows("900")).message
    assert desk.preview(program, rows("200"), operator="ada")[2]  # 1,100 within the window
    db.execute("UPDATE recon.action_log SET at = now() - interval '24 hours 1 minute' "
               "WHERE action = 'ledger_correction'")
    assert not desk.preview(program, rows("900"), operator="ada")[2]
    assert "request" not in desk.submit("ada", program, "Today's fix", rows("900")).message
    assert posted(db) == ["Yesterday's fix", "Today's fix"]


def test_another_currency_does_not_count_and_an_unclear_answer_does(db_url, db, factory,
                                                                    api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin")
    desk = desk_for(db_url, api, timeout=30)
    assert "request" not in desk.submit("ada", program, "USD fix", rows("900")).message
    assert "request" not in desk.submit("ada", program, "EUR fix", rows("900", "EUR")).message
    assert posted(db) == ["USD fix", "EUR fix"]
    # a correction sent whose answer was unclear may have been posted: it still counts; one the
    # platform refused (failed) was not posted and does not
    rewrite_history(db, "UPDATE recon.action_log SET result = 'unknown' WHERE request->>'reason' = "
               "'USD fix'")
    assert desk.preview(program, rows("101"), operator="ada")[2]
    rewrite_history(db, "UPDATE recon.action_log SET result = 'failed' WHERE request->>'reason' = "
               "'USD fix'")
    assert not desk.preview(program, rows("1000"), operator="ada")[2]


def test_two_tabs_of_one_admin_at_the_same_instant_do_not_both_post_alone(
        db_url, db, factory, api):  # noqa: F811
    """Both tabs are released by a barrier; writes to the action log wait behind a real table
    lock, so without the per-admin lock both would read an empty window and both post."""
    program = ledger_program(factory)
    acting_as(db_url, ada="admin")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def tab(name: str) -> None:
        desk = desk_for(db_url, api, timeout=30)
        barrier.wait(10)
        outcomes[name] = desk.submit("ada", program, f"Fix from {name}", rows("900"))

    lock = hold_table_lock(db_url, "recon.action_log", 2)  # the attempts' rows wait
    tabs = [threading.Thread(target=tab, args=(n,)) for n in ("tab 1", "tab 2")]
    for thread in tabs:
        thread.start()
    for thread in (*tabs, lock):
        thread.join(60)
    assert len(outcomes) == 2
    assert len(posted(db)) == 1, posted(db)  # one posted alone
    [waiting] = desk_for(db_url, api, timeout=30).pending()  # the other waits
    assert {waiting["reason"], *posted(db)} == {"Fix from tab 1", "Fix from tab 2"}
    messages = sorted(o.message for o in outcomes.values())  # type: ignore[attr-defined]
    assert sum("Correction request #" in m for m in messages) == 1, messages


def test_the_preview_says_the_window_makes_a_second_admin_needed(db_url, db, factory,
                                                                 api):  # noqa: F811
    program = ledger_program(factory)
    acting_as(db_url, ada="admin", bob="admin")
    desk = desk_for(db_url, api, timeout=30)
    for n in range(5):
        assert "request" not in desk.submit("ada", program, f"Fix {n}",
                                            rows("900" if n == 0 else "0.01")).message
    _, _, second = desk.preview(program, rows("900"), operator="ada")
    assert second and second.message == (
        "With the 900.04 USD (debits) you posted alone in the last 24 hours, this is "
        "1,800.04 USD, over 1,000; a second admin confirms it.")
    assert not desk.preview(program, rows("900"), operator="bob")[2]  # bob posted nothing
    assert not desk.preview(program, rows("99.96"), operator="ada")[2]  # exactly 1,000.00
    assert desk.preview(program, rows("99.97"), operator="ada")[2]
    assert posted(db) == [f"Fix {n}" for n in range(5)]


def test_the_ledger_page_says_before_sending_that_the_window_needs_a_second_admin(
        console, db, factory):  # noqa: F811
    """The Ledger page's dry run (Streamlit AppTest, the real admin API behind it)."""
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                    ("affiliate:a", "credit", "10.00")])
    at = open_page(app(operator="root"), "ledger")
    fill_correction(at, [("affiliate:a", "debit", "900"), ("treasury", "credit", "900")],
                    reason="First half")
    assert "A second admin is needed" not in texts(at)
    confirm(at)
    assert posted(db) == ["First half"]
    fill_correction(at, [("affiliate:a", "debit", "900"), ("treasury", "credit", "900")],
                    reason="Second half")
    shown = texts(at)
    assert ("A second admin is needed: with the 900.00 USD (debits) you posted alone in the "
            "last 24 hours, this is 1,800.00 USD, over 1,000. This records a **request**") \
        in shown, shown
    confirm(at)
    assert posted(db) == ["First half"]
    assert [w["reason"] for w in db.fetch_all("SELECT reason FROM recon.correction_requests "
                                              "WHERE status = 'pending'")] == ["Second half"]


def test_an_unclear_answer_counts_and_its_retry_with_the_same_key_counts_once(
        db_url, db, factory, api):  # noqa: F811
    """The answer of a 900 correction is lost (a real client timeout behind a real table lock):
    it may have been posted, so it counts; sending it again reuses its Idempotency-Key (posted at
    most once) and is not stopped by itself, and the two rows of that one key count once."""
    program = ledger_program(factory)
    acting_as(db_url, ada="admin")
    lock = hold_ledger_lock(db_url, 3)
    lost = desk_for(db_url, api, timeout=1.5).submit("ada", program, "Refund", rows("900"))
    assert not lost.ok and lost.maybe_done, lost.message
    desk = desk_for(db_url, api, timeout=15)
    assert desk.preview(program, rows("200"), operator="ada")[2]  # 1,100 with the unclear one
    lock.join()
    wait_for(db, 1)
    again = desk.submit("ada", program, "Refund", rows("900"))  # the same correction again
    assert again.ok and "Nothing was posted again" in again.message, again.message
    assert posted(db) == ["Refund"] and desk.pending() == []
    assert not desk.preview(program, rows("100"), operator="ada")[2]  # 900 + 100: not over
    assert desk.preview(program, rows("100.01"), operator="ada")[2]


def test_the_migration_marks_the_direct_corrections_recorded_before_it(db):
    """0043 marks the direct corrections already in the action log (counted from day one), not a
    confirmed request's post (its key and reason name the request and both admins)."""
    from pathlib import Path

    def logged(operator: str, request: dict) -> None:
        db.execute("INSERT INTO recon.action_log (operator, action, target, request, result) "
                   "VALUES (%s, 'ledger_correction', 'p1', %s::jsonb, 'ok')",
                   (operator, json.dumps(request)))
    logged("ada", {"reason": "Fix", "idempotencyKey": "recon-correction-0f3a", "entries": []})
    logged("bob", {"reason": "Big (requested by ada, confirmed by bob)",
                   "idempotencyKey": "recon-correction-request-7-1764230400.000000",
                   "entries": []})
    logged("carol", {"reason": "Before keys", "entries": []})
    db.execute_script((Path(__file__).parents[1] / "sql/recon/0043_correction_window.sql")
                      .read_text())
    marked = db.fetch_all("SELECT operator, posted_alone FROM recon.action_log ORDER BY id")
    assert [(r["operator"], r["posted_alone"]) for r in marked] == [
        ("ada", True), ("bob", False), ("carol", True)]
