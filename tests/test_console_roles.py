"""A console action runs for, and is recorded under, the account that confirms it, with that
account's permission read at that moment — at both layers (audit f #1):

* the page: a confirm dialog belongs to the account that opened it; it is dropped when that
  account signs out, is disabled or another one signs in, and Confirm re-checks the permission;
* the library (ActionService): the operator must be an existing, enabled account with the role
  the action needs, read in the database when the action runs; otherwise refused and recorded.
"""

from __future__ import annotations

from sge_recon.accounts import AccountService
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .console_support import PASSWORD, app, open_page
from .platform_helpers import KEYS
from .test_console_actions import acting_as, actions, api, console  # noqa: F401 - fixtures


def paused(db) -> bool:
    return bool(db.fetch_one("SELECT paused FROM public.queue_control")["paused"])


def sign_in(at, name: str) -> None:
    at.text_input(key="sign_in_username").input(name)
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[[b.label for b in at.button].index("Sign in")].click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_dialog_left_open_is_dropped_when_another_account_signs_in(console, db,  # noqa: F811
                                                                     db_url):
    at = open_page(app("root"), "queue")
    at.button(key="pause_queue").click().run()
    assert at.button(key="confirm_action")  # root's dialog is open
    AccountService(Database(db_url)).set_disabled("root", True)
    at.run()  # root is stopped at the next run: the sign-in form
    assert "pending_action" not in at.session_state
    sign_in(at, "ada")  # someone else, in the same tab
    assert at.session_state["account"] == "ada"
    assert not [b for b in at.button if b.key == "confirm_action"]  # root's dialog is gone
    assert not paused(db) and actions(db) == []


def test_confirm_runs_only_for_the_account_that_opened_it(console, db):  # noqa: F811
    at = open_page(app("root"), "queue")
    at.button(key="pause_queue").click().run()
    pending = at.session_state["pending_action"]
    assert pending["account"] == "root"
    at.session_state["account"] = "ada"  # the tab's account changed without a sign-out
    at.run()
    assert "pending_action" not in at.session_state
    assert not paused(db) and actions(db) == []


def test_an_account_demoted_while_its_dialog_is_open_is_refused_at_confirm(console, db,  # noqa: F811
                                                                          db_url):
    at = open_page(app("ada"), "queue")
    at.button(key="pause_queue").click().run()
    AccountService(Database(db_url)).add("ada", "viewer", PASSWORD, replace=True)
    at.button(key="confirm_action").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # `users add --replace` ended ada's sign-in: the sign-in form, the dialog gone
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "pending_action" not in at.session_state
    assert not paused(db) and actions(db) == []


def test_the_library_refuses_and_records_an_operator_without_the_role(db_url, db, factory,
                                                                      api):  # noqa: F811
    program = factory.program()
    user = factory.user(program["id"])
    stuck = factory.intent(program["id"], user["id"], status="failed")
    acting_as(db_url, ada="operator", vic="viewer", gone="operator", root="admin")
    AccountService(Database(db_url)).set_disabled("gone", True)
    service = Recon(settings_for(db_url, SGE_ADMIN_API_URL=api, **KEYS)).console.actions
    refusals = {
        "vic": service.retry_intent("vic", stuck["id"]),                 # a viewer
        "nobody-at-all": service.retry_intent("nobody-at-all", stuck["id"]),  # no such account
        "gone": service.pause_queue("gone"),                             # disabled
        "ada": service.execute_batch("ada", "batch_x"),                  # operator, not admin
    }
    for name, outcome in refusals.items():
        assert not outcome.ok and outcome.logged and outcome.message.startswith("Refused: "), \
            (name, outcome)
    assert "is not a console account" in refusals["nobody-at-all"].message
    assert "disabled" in refusals["gone"].message
    assert "only an admin account executes payout batches" in refusals["ada"].message
    assert not paused(db)
    assert db.fetch_one("SELECT count(*) AS n FROM public.jobs WHERE intent_id = %s",
                        (stuck["id"],))["n"] == 0  # the API was never called
    assert [(r["operator"], r["action"], r["result"]) for r in actions(db)] == [
        ("vic", "retry_intent", "failed"), ("nobody-at-all", "retry_intent", "failed"),
        ("gone", "pause_queue", "failed"), ("ada", "execute_payout_batch", "failed")]
    assert service.pause_queue("ada").ok  # the same call by an allowed account goes through
