"""Overview: is everything green? The live part refreshes itself every REFRESH_SECONDS."""

import streamlit as st

import console_kit as kit

kit.page_header("Overview", "The runbook's health metrics, open alerts and the last "
                            "reconciliation run.")
kit.show_outcome("overview")


@st.cache_data(ttl=5, show_spinner=False)
def overview_data():
    return kit.service().overview()




def tile_link(page: str, key: str) -> None:
    if page in kit.PAGES and page != "overview":
        path, title, _ = kit.PAGES[page]
        st.page_link(path, label=f"Open {title}",
                     icon=":material/arrow_forward:")


@st.fragment(run_every=kit.settings().REFRESH_SECONDS)
def live() -> None:
    data = kit.load(overview_data, what="the overview")
    if data is None:
        return
    if data.replica_warning:
        st.error(data.replica_warning[:1].upper() + data.replica_warning[1:] + ".",
                 icon=":material/sync_problem:")
    if data.all_green:
        st.success("Everything is green.", icon=":material/check_circle:")
    cols = st.columns(4)
    for i, (col, metric) in enumerate(zip(cols, data.metrics)):
        with col.container(border=True):
            st.metric(f"{kit.mark(metric.light)} {metric.name}", metric.value, help=metric.detail)
            st.caption(metric.detail)
            tile_link(metric.page, f"metric_{i}")
    st.subheader("Open alerts")
    cols = st.columns(4)
    for i, (col, alert) in enumerate(zip(cols, data.alerts)):
        with col.container(border=True):
            st.metric(f"{kit.mark(alert.light)} {alert.label}", f"{alert.count:,}")
            if alert.money_at_stake or alert.money_apart:
                # per currency: amounts in different currencies are never added together
                st.caption("Money at stake: **" + kit.money_by_currency(
                    alert.money_at_stake, apart=alert.money_apart) + "**")
            st.caption(alert.detail)
            tile_link(alert.page, f"alert_{i}")
    st.subheader("Last reconciliation run")
    run = data.last_run
    if run is None:
        st.info("No reconciliation run stored yet: run `sge-recon check` or wait for the "
                "scheduler.", icon=":material/info:")
    else:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        st.markdown(f"{kit.mark(run.status)} **{run.status}** · {run.engine} engine · "
                    f"started {kit.when(run.started_at)} · {counts}")
    if data.open_incidents:
        text = ", ".join(f"{n} {p}" for p, n in sorted(data.open_incidents.items()))
        st.warning(f"Open incidents: {text}.", icon=":material/emergency:")
        st.caption("By priority, then the largest amount at stake in one currency:")
        for incident in data.top_incidents:
            money = kit.incident_money(incident)
            st.markdown(f"- **{incident['priority']}** #{incident['id']} {kit.md(incident['title'])}"
                        + (f" · at stake **{money}**" if money else "")
                        + ("" if incident["status"] == "open" else f" · {incident['status']}"))
        st.page_link("views/incidents.py", label="Open Incidents", icon=":material/emergency:")
    if data.replica_text:
        st.caption(data.replica_text)
    st.caption(f"Updated {kit.when(data.loaded_at, '%H:%M:%S')} · refreshes every "
               f"{kit.settings().REFRESH_SECONDS} s")


live()

with st.expander("Run the fast checks now"):
    st.caption("Runs the cheap SQL checks (never Great Expectations), stores the run and records "
               "it in the action log.")
    if st.button("Run fast checks", key="run_fast_checks", disabled=bool(kit.why_not()),
                 help=kit.why_not()):
        def work() -> str:
            result = kit.service().run_fast_checks()
            return f"Fast checks finished: {result.status} ({len(result.checks)} checks)."

        outcome = kit.service().actions.run_recorded(kit.operator(), "run_fast_checks", None,
                                                     work)
        overview_data.clear()
        (st.success if outcome.ok else st.error)(outcome.message)
