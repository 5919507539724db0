"""Runbook: the checklists (ticks saved per period and operator) and the incident guide."""

import streamlit as st

import console_kit as kit
from sge_recon.console import CHECKLISTS, INCIDENT_GUIDE

kit.page_header("Runbook", "Morning checklist, weekly deep dive, monthly audit. Each item links "
                           "to the view that answers it; your ticks are saved.")

today = kit.service().now().date()
ticks, others = None, {}
op = kit.operator()
others = kit.load(kit.service().runbook_ticks_by_others, op, today, what="the ticks") or {}
if kit.require_operator():
    ticks = kit.load(kit.service().runbook_ticks, op, today, what="your ticks")


def save_tick(item_id: str) -> None:
    checked = st.session_state[f"tick_{item_id}"]
    try:
        kit.service().set_runbook_tick(kit.operator(), item_id, checked, today)
    except Exception as exc:  # noqa: BLE001 - shown as a banner, the checkbox is rolled back
        st.session_state["tick_error"] = getattr(exc, "message", str(exc))


if err := st.session_state.pop("tick_error", None):
    st.error(f"The tick was not saved: {err}", icon=":material/warning:")

for checklist in CHECKLISTS:
    start = checklist.period_start(today)
    done = sum(1 for i in checklist.items if ticks and i.id in ticks)
    st.subheader(f"{checklist.title} · {done}/{len(checklist.items)}")
    st.caption({"daily": f"for {start:%A %d %B %Y}",
                "weekly": f"for the week of {start:%d %B %Y}",
                "monthly": f"for {start:%B %Y}"}[checklist.kind])
    for item in checklist.items:
        left, right = st.columns([5, 2])
        key = f"tick_{item.id}"
        if ticks is not None:
            st.session_state[key] = item.id in ticks
        left.checkbox(item.text, key=key, disabled=ticks is None, on_change=save_tick,
                      args=(item.id,))
        names = others.get(item.id) or []
        note = (f"also ticked by {', '.join(names)}" if ticks is not None else
                f"ticked by {', '.join(names)}") if names else None
        right.page_link(kit.PAGES[item.page][0], label=f"Open {kit.PAGES[item.page][1]}", icon=":material/arrow_forward:",
                        help=note)
        if note:
            left.caption(note)

st.subheader("Incident guide")
st.table([{"priority": g.priority, "what": g.what, "respond": g.respond,
           "first steps": g.first_steps} for g in INCIDENT_GUIDE])
