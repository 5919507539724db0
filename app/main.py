"""The sge-recon ops console (DESIGN §9): `sge-recon console`, or `streamlit run app/main.py`.

This entrypoint only sets up the frame every page shares — the sign-in (local accounts, see
sge_recon/accounts.py), who is signed in, the status of the database and the admin API — and
hands over to the page chosen in the navigation. Pages live in app/views/ and call the library (Recon.console). Not in
app/pages/: Streamlit serves a pages/ folder's files directly by URL, bypassing this entrypoint
(its password gate and sidebar); st.navigation routes every URL through here.
"""

from __future__ import annotations

import hmac
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # console_kit, when run from elsewhere

import console_kit as kit  # noqa: E402
from sge_recon.config_checks import hide_password  # noqa: E402
from sge_recon.errors import DatabaseUnavailable, ReconError  # noqa: E402

st.set_page_config(page_title="sge-recon console", page_icon=":material/balance:", layout="wide")


def gate():
    """DESIGN §9: what must be shown before any page, or None when the page may run. When
    accounts exist, nothing is shown before a sign-in (Username, Password, Sign in). Without
    accounts the console is read-only (every action disabled, saying why), behind
    CONSOLE_PASSWORD when that is set (the legacy viewer gate)."""
    st.session_state["_why_shown"] = False
    if kit.account() is not None:
        return None
    if kit.sso_resume():  # signed in at the OpenID Connect provider (st.login), linked account
        return None
    if kit.resume_session():  # a reload or a new tab of a signed-in browser
        return None
    try:
        any_accounts = kit.accounts_exist()
    except DatabaseUnavailable as exc:  # cannot tell who may see what: show nothing until back
        return lambda message=exc.message: kit.database_down_banner(message, "the console")
    except ReconError as exc:
        return lambda message=exc.message: st.error(
            f"The console cannot check its accounts: {message}", icon=":material/dangerous:")
    if not any_accounts and not kit.sso_enabled():
        expected = kit.settings().CONSOLE_PASSWORD
        if expected and not st.session_state.get("viewer_ok"):
            return legacy_password_gate
        return None
    return sign_in_form


def sign_in_form() -> None:
    kit.write_session_cookie()  # after a sign-out: forget the session in this browser
    st.title("sge-recon console")
    if kit.sso_enabled():
        single_sign_on()
        st.divider()
        st.caption("Or sign in with a local console account (`sge-recon users add`). Every "
                   "action is recorded with your account's name.")
    else:
        st.caption("Sign in with your console account (`sge-recon users add`). Every action is "
                   "recorded with your name.")
    with st.form("sign_in", clear_on_submit=False, enter_to_submit=True):
        username = st.text_input("Username", key="sign_in_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = kit.recon().accounts.sign_in(username, password)
        problem = kit.start_session(result.account.name, result.account) if result.ok \
            else result.message
        if not problem:
            st.session_state["account"] = result.account.name
            st.session_state.pop("pending_action", None)  # never carried over to a new sign-in
            st.session_state.pop("sign_in_password", None)
            st.rerun()  # the page asked for (its address and ?id=) opens now
        st.error(problem, icon=":material/lock:")


def single_sign_on() -> None:
    """OpenID Connect (st.login): the provider's page signs the person in; the account linked to
    that identity gives the role. A refused identity is told why and can sign out of it."""
    provider = kit.settings().OIDC_PROVIDER_NAME
    refusal = st.session_state.get("sso_refusal")
    if refusal and kit.sso_logged_in():
        st.error(refusal, icon=":material/block:")
        st.button(f"Sign out of {provider}", key="sso_sign_out", on_click=st.logout,
                  help="Then sign in as someone else, or with a local account")
        return
    problem = kit.sso_problem()  # the provider's own page would only say "Authentication error"
    if problem:
        st.error(f"{problem[:1].upper()}{problem[1:]}.", icon=":material/cloud_off:")
    st.button(f"Sign in with {provider}", key="sso_sign_in", type="primary",
              on_click=st.login, args=(kit.SSO_PROVIDER,), disabled=bool(problem))


def legacy_password_gate() -> None:
    """CONSOLE_PASSWORD (no accounts yet): a shared viewer password; it never grants actions."""
    expected = kit.settings().CONSOLE_PASSWORD
    st.title("sge-recon console")
    typed = st.text_input("Console password", type="password", key="viewer_password")
    if typed:
        if hmac.compare_digest(typed.encode(), expected.encode()):
            st.session_state["viewer_ok"] = True
            del st.session_state["viewer_password"]
            st.rerun()
        st.error("Wrong password. Ask the ops lead for the console password.")


def sign_out() -> None:
    kit.end_session()
    via_sso = st.session_state.get("signed_in_via") == "sso"
    for key in ("account", "pending_action", "outcomes", "signed_in_via", kit.TZ_KEY,
                "tz_select"):
        st.session_state.pop(key, None)
    if via_sso:
        st.logout()  # forget the identity cookie too, or the next run would sign in again


def sidebar():
    with st.sidebar:
        who = kit.account()
        kit.write_session_cookie()  # after a sign-in: keep it across reloads and new tabs
        if who is not None:
            st.markdown(f":material/person: **{who.name}** · {who.role}"
                        + (f" (approver key {who.approver_slot})" if who.approver_slot else ""))
            if st.session_state.get("signed_in_via") == "sso":
                st.caption(f"Signed in with {kit.settings().OIDC_PROVIDER_NAME} as "
                           f"{who.sso_identity}")
            st.button("Sign out", key="sign_out", on_click=sign_out)
        else:
            st.caption(":material/lock: Read-only: " + (kit.why_not() or ""))
        timezone_choice(who)
        return st.empty()  # the connections, filled after the page (see below)


def connections(slot) -> None:
    """The admin API's and the database's status in the sidebar. Asked after the page has been
    drawn: the API's health is an HTTP call (and its client's first import), which must not hold
    up the first render of the Overview."""
    api = kit.api_health()
    where = kit.md(hide_password(kit.settings().SGE_ADMIN_API_URL))  # never a gateway password
    with slot.container():
        if api.ok:
            st.caption(f":green[●] Admin API up · {where}")
        else:
            st.caption(f":red[●] Admin API down · {where}")
        st.caption(f"Database: {kit.recon().db.where}")


def timezone_choice(who) -> None:
    """The viewer's timezone: every time on every page is shown in it, named. Kept on the
    signed-in account (recon.console_users.timezone); UTC by default."""
    if kit.TZ_KEY not in st.session_state:
        st.session_state[kit.TZ_KEY] = (who.timezone if who is not None else None) or "UTC"
    zones = kit.timezones()
    if st.session_state.get("tz_select") not in zones:
        current = st.session_state[kit.TZ_KEY]
        st.session_state["tz_select"] = current if current in zones else "UTC"

    def chosen() -> None:
        st.session_state[kit.TZ_KEY] = st.session_state["tz_select"]
        if who is not None:
            try:
                kit.recon().accounts.set_timezone(who.name, st.session_state[kit.TZ_KEY])
            except ReconError as exc:
                st.toast(f"Timezone not saved for next time: {exc.message}")

    st.selectbox("Timezone", zones, key="tz_select", on_change=chosen,
                 help="Times on every page are shown in this timezone"
                      + (" (kept for your account)" if who is not None else ""))


# The navigation is set up before the gate (hidden until signed in), so that the page of the
# address (/payouts?id=…) is the one that opens after signing in.
blocked = gate()
navigation = st.navigation([st.Page(path, title=title, icon=icon, url_path=key,
                                    default=(key == "overview"))
                            for key, (path, title, icon) in kit.PAGES.items()],
                           position="hidden" if blocked else "sidebar")
if blocked:
    blocked()
    st.stop()
status_slot = sidebar()
try:
    navigation.run()
finally:  # also after a page's st.stop()
    connections(status_slot)
