"""What every page of the console shares: the cached Recon, guarded data loads with banners,
the operator's identity, and the confirm-then-act dialog.

The only place (with the pages) that imports streamlit. No SQL and no HTTP here: everything goes
through ``Recon.console`` (sge_recon/console).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import streamlit as st

from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import DatabaseUnavailable, ReconError

from console_format import (  # noqa: E402,F401 - re-exported for the pages
    LIGHT_BADGES, STATUS_LIGHTS, md, md_line, shown_controls, shown_json, mark, money, money_by_currency, incident_money, totals_by_currency, unstated, exact, HEADERS, LINKS, TZ_KEY, timezones, zone_name, zone, local, when, header, cell, link, LINK_TEXT,
)

RETRY_SECONDS = 5

# The console's pages: key (the §9 address /<key>, and what the library's links and the runbook
# name) -> file, title, icon. The one table the navigation, the tiles and the runbook read.
PAGES = {
    "overview": ("views/overview.py", "Overview", ":material/dashboard:"),
    "ledger": ("views/ledger.py", "Ledger", ":material/account_balance:"),
    "intents": ("views/intents.py", "Intents", ":material/receipt_long:"),
    "payouts": ("views/payouts.py", "Payouts", ":material/payments:"),
    "webhooks": ("views/webhooks.py", "Webhooks", ":material/webhook:"),
    "queue": ("views/queue.py", "Queue & workers", ":material/dns:"),
    "trends": ("views/trends.py", "Trends", ":material/trending_up:"),
    "slos": ("views/slos.py", "SLOs", ":material/speed:"),
    "runbook": ("views/runbook.py", "Runbook", ":material/checklist:"),
    "incidents": ("views/incidents.py", "Incidents", ":material/emergency:"),
    "exports": ("views/exports.py", "Audit exports", ":material/inventory_2:"),
}
log = logging.getLogger("sge_recon.console")


@st.cache_resource(show_spinner=False)
def get_recon() -> Recon:
    """One Recon (settings, database handle, services) per console process: the one app/serve.py
    built and warmed before the port opened, or a new one."""
    from sge_recon.context import take_warm_recon

    return take_warm_recon() or Recon(Settings.load(), application_name="sge-recon-console")


def recon() -> Recon:
    try:
        return get_recon()
    except ReconError as exc:  # bad settings: nothing can work, say what to fix
        st.error(f"The console cannot start: {exc.message}", icon=":material/dangerous:")
        st.stop()


def service():
    return recon().console


def settings() -> Settings:
    return recon().settings


def stop_if_platform_lacks(*tables: str) -> None:
    """A page about data the connected platform does not have (its profile declares the tables
    absent) says so and shows nothing else: an empty list would read as "nothing wrong"."""
    reasons = service().platform_lacks(*tables)
    if reasons:
        st.info(f"Not available on this platform: {reasons}.", icon=":material/block:")
        st.stop()


def supports(action: str) -> bool:
    """Whether the connected platform's admin API can do ``action``; when it cannot, say why
    here instead of offering a button that would fail."""
    reason = service().action_unsupported(action)
    if reason:
        st.caption(f":material/block: Not offered: {reason}.")
        return False
    return True


def load(fn: Callable[..., Any], *args: Any, what: str = "this page's data") -> Any:
    """Call a data function; a database that is down gives a banner (not a traceback) and
    the page retries by itself until it is back."""
    try:
        return fn(*args)
    except DatabaseUnavailable as exc:
        database_down_banner(exc.message, what)
    except ReconError as exc:
        st.error(f"Could not load {what}: {exc.message}", icon=":material/warning:")
    return None


def database_down_banner(message: str, what: str) -> None:
    st.error(f"**The database is not reachable**, so {what} cannot be shown. {message}. "
             f"This page checks again every {RETRY_SECONDS} s and recovers by itself.", icon=":material/dangerous:")
    _retry_when_database_returns()


@st.fragment(run_every=RETRY_SECONDS)
def _retry_when_database_returns() -> None:
    if st.session_state.get("_db_probe_armed") and recon().db.ping():
        st.session_state["_db_probe_armed"] = False
        st.cache_data.clear()
        st.rerun(scope="app")
    st.session_state["_db_probe_armed"] = True


@st.cache_data(ttl=10, show_spinner=False)
def api_health():
    return service().api_health()


def api_banner() -> None:
    """On pages with actions: say up front when the admin API cannot take them."""
    health = api_health()
    if not health.ok:
        st.warning(health.message, icon=":material/power_off:")


# -- who is signed in ----------------------------------------------------------------------------
@st.cache_data(ttl=10, show_spinner=False)
def accounts_exist() -> bool:
    return recon().accounts.any()


def account():
    """The signed-in account, read fresh from recon at every run through this tab's session
    (recon.console_sessions), or None (nobody signed in, or the console runs without accounts).
    A session that was revoked — a sign-out in another tab, a new password, `users add
    --replace`, a changed single sign-on link — or whose account is disabled ends the sign-in at
    once, and a sign-in without a session is none. A confirm dialog opened by another account
    (or by one that is gone now) is dropped: it never runs for someone else."""
    name = st.session_state.get("account")
    found = None
    if name:
        try:
            found = recon().accounts.resume(st.session_state.get("session_token"))
        except ReconError:
            found = None  # cannot tell who this is now: nobody, for this run
        else:
            if found is None or found.name != str(name).strip().lower():
                for key in ("account", "session_token", "signed_in_via"):
                    st.session_state.pop(key, None)
                found = None
    pending = st.session_state.get("pending_action")
    if pending and (found is None or pending.get("account") != found.name):
        st.session_state.pop("pending_action", None)
    return found


SESSION_COOKIE = "sge_recon_session"


def start_session(name: str, verified=None) -> str | None:
    """After a sign-in: a session token for this browser (written as a cookie on the next run),
    so that a reload or a link opened in a new tab stays signed in; every run checks it is still
    live (see account()). None when it could not be started: then nobody is signed in, and why."""
    try:
        # bound to the password / SSO link the sign-in checked: a reset meanwhile refuses it
        token = recon().accounts.start_session(name, verified)
    except ReconError as exc:
        return f"Sign-in is unavailable: {exc.message}"
    st.session_state["session_token"] = token
    st.session_state["_cookie"] = token
    return None


def resume_session() -> bool:
    """A new tab of a signed-in browser: its cookie names a live session of an enabled account."""
    token = (st.context.cookies or {}).get(SESSION_COOKIE) if hasattr(st, "context") else None
    if not token:
        return False
    try:
        found = recon().accounts.resume(token)
    except ReconError:
        return False
    if found is None:
        return False
    st.session_state["account"] = found.name
    st.session_state["session_token"] = token
    return True


# -- single sign-on (OpenID Connect through st.login; sge_recon/console/sso.py) -------------------
SSO_PROVIDER = "oidc"


def sso_enabled() -> bool:
    return settings().oidc_enabled


@st.cache_data(ttl=120, show_spinner=False)
def sso_problem() -> str | None:
    """Why sign-in through the provider cannot work now (it cannot be reached, its discovery
    document is not one, or it refuses the console's client credentials), or None; asked of the
    provider at most every 2 minutes (sge_recon/console/sso_check.py)."""
    from sge_recon.console.sso_check import provider_problem

    return provider_problem(settings(), int(st.get_option("server.port") or 8501))


def sso_logged_in() -> bool:
    """Whether the identity provider has signed this browser in (Streamlit's identity cookie)."""
    if not sso_enabled():
        return False
    try:
        return bool(st.user.is_logged_in)
    except (AttributeError, KeyError):  # Streamlit has no [auth] secrets (not started by sge-recon)
        return False


def sso_resume() -> bool:
    """A browser signed in at the identity provider: the account linked to its identity, or a
    refusal kept for the sign-in page (an unknown, unverified or disabled identity)."""
    st.session_state.pop("sso_refusal", None)
    if not sso_logged_in():
        return False
    import time

    from sge_recon.accounts import SESSION_SECONDS, identity_from_claims
    from sge_recon.sso_claims import sign_in_too_old

    claims = st.user.to_dict()
    identity, problem = identity_from_claims(claims, settings().OIDC_IDENTITY_CLAIM)
    if identity is not None:  # the identity cookie lasts 30 days: the sign-in itself 12 hours
        problem = sign_in_too_old(claims, time.time(), SESSION_SECONDS) or ""
        identity = None if problem else identity
    if identity is None:
        st.session_state["sso_refusal"] = f"The console cannot use this sign-in: {problem}."
        return False
    result = recon().accounts.sso_sign_in(identity, settings().OIDC_PROVIDER_NAME,
                                          settings().OIDC_IDENTITY_CLAIM)
    if not result.ok:
        st.session_state["sso_refusal"] = result.message
        return False
    problem = start_session(result.account.name, result.account)  # revoked like a local one
    if problem:
        st.session_state["sso_refusal"] = problem
        return False
    st.session_state["account"] = result.account.name
    st.session_state["signed_in_via"] = "sso"
    return True


def end_session() -> None:
    token = st.session_state.pop("session_token", None)
    try:
        recon().accounts.end_session(token)
    except ReconError:
        pass
    st.session_state["_cookie"] = ""  # cleared in the browser on the next run


def write_session_cookie() -> None:
    """Set (after a sign-in) or clear (after a sign-out) the session cookie in the browser."""
    token = st.session_state.pop("_cookie", None)
    if token is None:
        return
    age = 12 * 3600 if token else 0
    st.html("<script>document.cookie = " + json.dumps(
        f"{SESSION_COOKIE}={token}; path=/; max-age={age}; SameSite=Strict")
        + " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True)


def operator() -> str:
    """The name every action, tick and note is recorded with: the signed-in account's."""
    found = account()
    return found.name if found else ""


def why_not(what: str = "act") -> str | None:
    """Why the person at the console may not do ``what`` (act, approve, execute, correct), or
    None when they may. Buttons are shown disabled with this reason as their help."""
    found = account()
    if found is None:
        if not accounts_exist():
            return ("this console has no accounts yet, so it is read-only: create one with "
                    "`sge-recon users add NAME --role operator`")
        return "sign in to act"
    return found.why_not(what)


def require_operator(what: str = "act") -> bool:
    """True when the signed-in account may ``what``; otherwise says why (once per page)."""
    reason = why_not(what)
    if reason is None:
        return True
    if not st.session_state.get("_why_shown"):
        st.session_state["_why_shown"] = True
        st.info(f"Read-only: {reason}.", icon=":material/lock:")
    return False


def table(rows: Any, links: bool | dict[str, tuple[str, str]] = True, **kwargs: Any) -> None:
    """st.dataframe for row dicts as people read them: human headers, money exact, times in the
    viewer's timezone (named in the header) without an offset, empty cells instead of None, and
    every id a link to its page."""
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        st.dataframe(rows, **kwargs)
        return
    targets = (LINKS if links is True else links or {})
    columns = list(rows[0])
    linked = {c: targets[c] for c in columns if c in targets}
    shown = []
    for r in rows:
        out = {k: cell(v) for k, v in r.items()}
        for c, (page, param) in linked.items():
            if r.get(c) not in (None, ""):
                out[c] = link(page, param, r[c])
        shown.append(out)
    config = {c: header(c) for c in columns}
    for c, (page, _param) in linked.items():
        config[c] = st.column_config.LinkColumn(
            header(c), display_text=LINK_TEXT,
            help=f"Opens the item on the {page.capitalize()} page")
    config.update(kwargs.pop("column_config", None) or {})
    st.dataframe(shown, column_config=config, **kwargs)


# -- confirm, act, show the answer -----------------------------------------------------------------
def pick(label: str, options: list[str], key: str, param: str = "id",
         format_func: Callable[[Any], str] = str, help: str | None = None) -> str | None:
    """The item this page is on: the URL's ``?<param>=`` (a deep link, or what was picked
    here). A list that refreshes underneath never changes it, and after an action it stays on
    the same item (never the next one in the list); nothing is pre-selected."""
    current = st.query_params.get(param) or None
    options = list(options)
    if current is not None and current not in options:
        options.insert(0, current)  # e.g. a batch that just left the open list: stay on it

    def changed() -> None:
        value = st.session_state.get(key)
        if value is None:
            st.query_params.pop(param, None)
        else:
            st.query_params[param] = value

    st.session_state[key] = current
    st.selectbox(label, options, key=key, on_change=changed,
                 format_func=lambda o: shown_controls(format_func(o)),  # no hidden RLO in a list
                 placeholder="Choose one…", help=help)
    return current


def search_to_param(key: str, param: str) -> None:
    """on_change of a search box: open the typed id (the URL's ?<param>=), clear the box."""
    value = (st.session_state.get(key) or "").strip()
    if value:
        st.query_params[param] = value
    st.session_state[key] = ""


def ask_to_confirm(page: str, title: str, description: str, run: Callable[[str], Any],
                   need: str = "act", target: str | None = None) -> None:
    """Open the confirmation dialog for an action; ``run(operator)`` returns an ActionOutcome
    and is called with the confirming account's name. The target is captured now: nothing that
    refreshes afterwards can change what Confirm acts on. The dialog belongs to the account that
    opened it: Confirm runs only while that account is still signed in and still may ``need``
    (the library checks it again when the action runs)."""
    st.session_state["pending_action"] = {"page": page, "title": title,
                                          "description": description, "run": run,
                                          "need": need, "target": target,
                                          "account": operator() or None}


def _clear_pending() -> None:
    st.session_state.pop("pending_action", None)


def show_pending_dialog() -> None:
    """Called at the end of every page with actions: while an action waits for confirmation,
    its dialog stays open (a dismissed dialog cancels the action)."""
    pending = st.session_state.get("pending_action")
    if not pending:
        return

    def body() -> None:
        st.markdown(pending["description"])
        if pending.get("target"):
            st.caption(f"Acts on **{md(pending['target'])}** only (fixed when this dialog "
                       "opened).")
        st.caption(f"Signed in as: {operator() or '—'} · recorded in the action log")
        left, right = st.columns(2)
        if left.button("Confirm", type="primary", key="confirm_action"):
            who = account()  # read fresh, at the moment
            try:
                if who is None or who.name != pending.get("account"):
                    raise ReconError("this confirmation was opened by another sign-in; open "
                                     "the action again")
                # the permission is checked by the library as the action runs (the account as
                # it is in the database now), which records a refusal like any other answer
                outcome = pending["run"](who.name)
            except ReconError as exc:
                outcome = exc
            except Exception as exc:  # a bug must not reach the operator as a traceback
                log.exception("console action %s failed unexpectedly", pending["title"])
                outcome = ReconError(f"the console hit an unexpected error ({type(exc).__name__}: "
                                     f"{exc}); nothing is known to have changed — check the "
                                     "console log and the action log")
            st.session_state.setdefault("outcomes", {})[pending["page"]] = outcome
            _clear_pending()
            st.cache_data.clear()  # show the effect of the action, not a cached past
            st.rerun()
        if right.button("Cancel", key="cancel_action"):
            _clear_pending()
            st.rerun()

    st.dialog(pending["title"], on_dismiss=_clear_pending)(body)()


def show_outcome(page: str) -> None:
    """The answer to the last action on this page, in words: success, or failure and why."""
    outcome = st.session_state.get("outcomes", {}).get(page)
    if outcome is None:
        return
    if isinstance(outcome, ReconError):
        st.error(f"Not done: {md(outcome.message)}", icon=":material/warning:")
        return
    label = f"**{outcome.action.replace('_', ' ')}** on {md(outcome.target)}"
    if outcome.ok:
        st.success(f"{label}: {md(outcome.message)}", icon=":material/check_circle:")
    elif outcome.maybe_done:  # sent, no answer: it may have been done — not a refusal
        st.warning(f"{label}: {md(outcome.message)}", icon=":material/help:")
    else:
        st.error(f"{label}: {md(outcome.message)}", icon=":material/block:")
    if outcome.logged and outcome.log_id:
        st.caption(f"Recorded as action #{outcome.log_id}.")


def page_header(title: str, caption: str | None = None, *, platform_data: bool = False) -> None:
    """``platform_data``: the page shows the platform's data, so it says when the standby of
    PLATFORM_READ_URL is refused and the primary is read instead (the Overview says it in its
    live part)."""
    st.title(title)
    if caption:
        st.caption(caption)
    if platform_data:
        try:
            notice = service().platform_notice()
        except ReconError:  # the page's own load says what is down
            notice = None
        if notice:
            st.warning(notice + ".", icon=":material/sync_problem:")
