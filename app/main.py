"""The sge-recon ops console (DESIGN §9): `sge-recon console`, or `streamlit run app/main.py`.

This entrypoint only sets up the frame every page shares — the optional viewer password, the
operator's name, the status of the database and the admin API — and hands over to the page chosen
in the navigation. Pages live in app/views/ and call the library (Recon.console). Not in
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
            st.caption(f":green[●] Admin API up · {kit.settings().SGE_ADMIN_API_URL}")
        else:
            st.caption(f":red[●] Admin API down · {kit.settings().SGE_ADMIN_API_URL}")
        st.caption(f"Database: {kit.recon().db.where}")


password_gate()
navigation = st.navigation([st.Page(path, title=title, icon=icon, url_path=key,
                                    default=(key == "overview"))
                            for key, (path, title, icon) in PAGES.items()])
sidebar()
navigation.run()
