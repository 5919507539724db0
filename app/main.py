"""The sge-recon ops console (DESIGN §9): `sge-recon console`, or `streamlit run app/main.py`.

This entrypoint only sets up the frame every page shares — the optional viewer password, the
operator's name, the status of the database and the admin API — and hands over to the page chosen
in the navigation. Pages live in app/pages/ and call the library (Recon.console).
"""

from __future__ import annotations

import hmac
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # console_kit, when run from elsewhere

import console_kit as kit  # noqa: E402

PAGES = {
    "overview": ("pages/overview.py", "Overview", ":material/dashboard:"),
    "ledger": ("pages/ledger.py", "Ledger", ":material/account_balance:"),
    "intents": ("pages/intents.py", "Intents", ":material/receipt_long:"),
    "payouts": ("pages/payouts.py", "Payouts", ":material/payments:"),
    "webhooks": ("pages/webhooks.py", "Webhooks", ":material/webhook:"),
    "queue": ("pages/queue.py", "Queue & workers", ":material/dns:"),
    "trends": ("pages/trends.py", "Trends", ":material/trending_up:"),
    "slos": ("pages/slos.py", "SLOs", ":material/speed:"),
    "runbook": ("pages/runbook.py", "Runbook", ":material/checklist:"),
    "incidents": ("pages/incidents.py", "Incidents", ":material/emergency:"),
    "exports": ("pages/exports.py", "Audit exports", ":material/inventory_2:"),
}

st.set_page_config(page_title="sge-recon console", page_icon=":material/balance:", layout="wide")


def password_gate() -> None:
    """When CONSOLE_PASSWORD is set, nothing is shown before the viewer types it."""
    expected = kit.settings().CONSOLE_PASSWORD
    if not expected or st.session_state.get("viewer_ok"):
        return
    st.title("sge-recon console")
    typed = st.text_input("Console password", type="password", key="viewer_password")
    if typed:
        if hmac.compare_digest(typed.encode(), expected.encode()):
            st.session_state["viewer_ok"] = True
            del st.session_state["viewer_password"]
            st.rerun()
        st.error("Wrong password. Ask the ops lead for the console password.")
    st.stop()


def sidebar() -> None:
    with st.sidebar:
        st.text_input("Operator", key="operator", placeholder="your name",
                      help="Entered once per session; every action and runbook tick is recorded "
                           "with this name.")
        api = kit.api_health()
        if api.ok:
            st.caption(f"🟢 Admin API up · {kit.settings().SGE_ADMIN_API_URL}")
        else:
            st.caption(f"🔴 Admin API down · {kit.settings().SGE_ADMIN_API_URL}")
        st.caption(f"Database: {kit.recon().db.where}")


password_gate()
navigation = st.navigation([st.Page(path, title=title, icon=icon, url_path=key,
                                    default=(key == "overview"))
                            for key, (path, title, icon) in PAGES.items()])
sidebar()
navigation.run()
