"""SLOs: target, current value and error budget left over a chosen window."""

import streamlit as st

import console_kit as kit

kit.page_header("SLOs", "Service-level objectives and their error budgets.",
                platform_data=True)
days = st.selectbox("Window", [1, 7, 28, 90], index=2, format_func=lambda d: f"last {d} days",
                    key="slo_days")


@st.cache_data(ttl=60, show_spinner="Computing the SLOs…")
def slos(days):
    return kit.service().slos(days)


def pct(value, places=2):
    return "—" if value is None else f"{value * 100:.{places}f} %"


def budget(slo):
    left = slo.budget_left
    if left is None:
        return "—"
    return "0 % (exhausted)" if left <= 0 else pct(left, 1)


rows = kit.load(slos, days, what="the SLOs")
if rows is not None:
    cols = st.columns(len(rows))
    for col, slo in zip(cols, rows):
        with col.container(border=True):
            st.metric(f"{kit.mark(slo.met)} {slo.name}", pct(slo.current, 3),
                      help=f"Target {pct(slo.target, 1)}")
            st.caption(f"Target **{pct(slo.target, 1)}** · error budget left "
                       f"**{budget(slo)}**")
            st.caption(f"{slo.good:,} good of {slo.total:,} — {slo.measured_by}.")
            if slo.now is not None:  # the Overview's light for the same check, computed now
                st.caption(f"Now: **{slo.now.value}** — {slo.now.detail}")
    kit.table([{"objective": s.name, "target": pct(s.target, 1), "current": pct(s.current, 3),
                   "error budget left": budget(s), "good": s.good, "total": s.total,
                   "bad": s.bad} for s in rows], hide_index=True, key="slo_table")
