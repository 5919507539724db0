"""What every page of the console shares: the cached Recon, guarded data loads with banners,
the operator's identity, and the confirm-then-act dialog.

The only place (with the pages) that imports streamlit. No SQL and no HTTP here: everything goes
through ``Recon.console`` (sge_recon/console).
"""

from __future__ import annotations

import logging
from decimal import Decimal, localcontext
from typing import Any, Callable

import streamlit as st

from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.errors import DatabaseUnavailable, ReconError

RETRY_SECONDS = 5
CENT = Decimal("0.01")
log = logging.getLogger("sge_recon.console")


@st.cache_resource(show_spinner=False)
def get_recon() -> Recon:
    """One Recon (settings, database handle, services) per console process."""
    return Recon(Settings.load(), application_name="sge-recon-console")


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


def operator() -> str:
    return (st.session_state.get("operator") or "").strip()


def require_operator() -> bool:
    if operator():
        return True
    st.info("Enter your name as **operator** in the sidebar to act: every action is recorded "
            "with who did it.", icon=":material/person:")
    return False


LIGHT_BADGES = {"green": ("green", "OK"), "amber": ("orange", "WARN"), "red": ("red", "FAIL"),
                "grey": ("gray", "UNKNOWN")}
STATUS_LIGHTS = {"pass": "green", "warn": "amber", "fail": "red", True: "green", False: "red"}


def mark(light: Any) -> str:
    """A coloured badge with a word (Markdown) for a light, a check status or a met/unmet flag:
    the word keeps it readable without colour."""
    word = getattr(light, "value", None) or STATUS_LIGHTS.get(light, "grey")
    colour, text = LIGHT_BADGES.get(word, LIGHT_BADGES["grey"])
    return f":{colour}-badge[{text}]"


def money(value: Any) -> str:
    return "—" if value is None else f"{value:,.2f}"


def exact(value: Any) -> Any:
    """A Decimal as exact text with at least cents (52.20, 0.000001): Streamlit would otherwise
    show Decimals as floats and drop trailing zeros. Other values pass through."""
    if not isinstance(value, Decimal):
        return value
    with localcontext(prec=80):  # numeric(38,6) has more digits than the default context's 28
        if value == value.quantize(CENT):
            return f"{value.quantize(CENT):,}"
        return f"{value.normalize():,f}"


def table(rows: Any, **kwargs: Any) -> None:
    """st.dataframe for a list of row dicts, with money shown exactly (see :func:`exact`)."""
    if isinstance(rows, list):
        rows = [{k: exact(v) for k, v in r.items()} if isinstance(r, dict) else r for r in rows]
    st.dataframe(rows, **kwargs)


# -- confirm, act, show the answer -----------------------------------------------------------------
def ask_to_confirm(page: str, title: str, description: str, run: Callable[[], Any]) -> None:
    """Open the confirmation dialog for an action; ``run`` returns an ActionOutcome."""
    st.session_state["pending_action"] = {"page": page, "title": title,
                                          "description": description, "run": run}


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
        st.caption(f"Operator: {operator() or '—'} · recorded in the action log")
        left, right = st.columns(2)
        if left.button("Confirm", type="primary", key="confirm_action"):
            try:
                outcome = pending["run"]()
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
        st.error(f"Not done: {outcome.message}", icon=":material/warning:")
        return
    label = f"**{outcome.action.replace('_', ' ')}** on `{outcome.target}`"
    if outcome.ok:
        st.success(f"{label}: {outcome.message}", icon=":material/check_circle:")
    else:
        st.error(f"{label}: {outcome.message}", icon=":material/block:")
    if outcome.logged and outcome.log_id:
        st.caption(f"Recorded as action #{outcome.log_id}.")


def page_header(title: str, caption: str | None = None) -> None:
    st.title(title)
    if caption:
        st.caption(caption)
