"""Console sign-in (DESIGN §9) through AppTest against the real database: the form (Username,
Password, Sign in) before any page, failures shown and rate-limited, the signed-in account on
every action, a disabled account stops at once, and a console without accounts is read-only."""

from __future__ import annotations

import pytest

from .console_support import PASSWORD, app, console_env, open_page, texts
from .factories import ago
from .platform_helpers import running_api


@pytest.fixture(scope="module")
def api(module_db_url):
    with running_api(module_db_url) as url:
        yield url


@pytest.fixture
def at(module_db_url, api, monkeypatch, tmp_path):
    console_env(monkeypatch, module_db_url, api, tmp_path, CONSOLE_PASSWORD="ignored now")
    return app(operator=None)


def sign_in(at, username, password):
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_sign_in_form_comes_before_any_page(at):
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert at.text_input(key="sign_in_password").proto.type == 1  # masked
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe
    at.switch_page("views/payouts.py").run()  # a page's own URL is guarded too
    assert [t.label for t in at.text_input] == ["Username", "Password"] and not at.dataframe


def test_wrong_then_right_password_then_sign_out(at, module_db_url):
    at.run()
    sign_in(at, "ada", "not the password")
    assert "Wrong username or password." in texts(at) and not at.metric
    sign_in(at, "ada", PASSWORD)
    assert "ada" in " ".join(m.value for m in at.sidebar.markdown)
    assert any("Ledger status" in m.label for m in at.metric)  # the Overview
    assert "sign_in_password" not in at.session_state  # the typed password is not kept
    from sge_recon.db import Database

    db = Database(module_db_url)
    token = at.session_state["session_token"]  # kept in a cookie: a reload stays signed in
    sessions = "SELECT count(*) AS n FROM recon.console_sessions WHERE name = 'ada' AND " \
               "revoked_at IS NULL AND expires_at > now()"
    assert db.fetch_one(sessions)["n"] == 1 and token
    at.sidebar.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert db.fetch_one(sessions)["n"] == 0  # signed out: the session is revoked


def test_repeated_failures_lock_the_name(at):
    at.run()
    for _ in range(5):
        sign_in(at, "bob", "wrong password")
    sign_in(at, "bob", PASSWORD)
    assert "Too many failed sign-ins for 'bob'" in texts(at) and not at.metric


def test_a_disabled_account_stops_at_the_next_click(module_db_url, api, monkeypatch, tmp_path):
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    console_env(monkeypatch, module_db_url, api, tmp_path)
    at = app(operator="ada")
    at.run()
    assert any("Ledger status" in m.label for m in at.metric)
    AccountService(Database(module_db_url)).set_disabled("ada")
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"] and not at.metric


def test_without_accounts_the_console_is_read_only(db_url, monkeypatch, tmp_path, factory):
    # a fresh database of its own: no account at all
    with running_api(db_url) as own_api:
        console_env(monkeypatch, db_url, own_api, tmp_path, accounts=False)
        program = factory.program()
        user = factory.user(program["id"])
        stuck = factory.intent(program["id"], user["id"], status="processing",
                               status_changed_at=ago(minutes=25))
        at = app(operator=None)
        at.run()
        assert not [t for t in at.text_input if t.label == "Username"]  # no form: no accounts
        at = open_page(at, "intents")
        at.selectbox(key="stuck_choice").select(stuck["id"]).run()
        button = at.button(key="retry_stuck")
        assert button.disabled and "sge-recon users add" in button.help
        assert "Read-only" in " ".join(c.value for c in at.sidebar.caption)


def signed_in_as(at) -> str | None:
    """Who the sidebar says is signed in (None: the sign-in form is shown)."""
    if [t.label for t in at.text_input] == ["Username", "Password"]:
        return None
    shown = " ".join(m.value for m in at.sidebar.markdown)
    return shown


def test_a_new_password_ends_a_tab_already_signed_in(at, module_db_url):
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    at.run()
    sign_in(at, "ada", PASSWORD)
    assert "ada" in signed_in_as(at)
    AccountService(Database(module_db_url)).set_password("ada", "a-new-password-456")
    at.run()  # the open tab (someone who knew the old password) is signed out at once
    assert signed_in_as(at) is None and not at.metric
    assert "account" not in at.session_state


def test_a_replaced_account_does_not_hand_its_new_role_to_the_old_sign_in(at, module_db_url):
    from sge_recon.accounts import AccountService
    from sge_recon.db import Database

    at.run()
    sign_in(at, "vic", PASSWORD)
    assert "vic** · viewer" in signed_in_as(at)
    # the name is given to someone else, as an admin: vic's open tab must not become an admin
    AccountService(Database(module_db_url)).add("vic", "admin", "the-new-admin-pw", replace=True)
    at.run()
    assert signed_in_as(at) is None and not at.metric


def test_signing_out_ends_the_other_tabs_of_that_sign_in(at, module_db_url):
    at.run()
    sign_in(at, "ada", PASSWORD)
    other = app(operator=None)  # a link opened in a new tab: it resumed the same session
    other.session_state["account"] = "ada"
    other.session_state["session_token"] = at.session_state["session_token"]
    other.run()
    assert "ada" in signed_in_as(other)
    at.sidebar.button(key="sign_out").click().run()
    other.run()
    assert signed_in_as(other) is None and not other.metric
