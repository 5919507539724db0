"""Trends: the weekly deep dive (Plotly)."""

import streamlit as st

import charts
import console_kit as kit

kit.page_header("Trends", "The weekly deep dive: processing time, queue depth, payout times, RPC "
                          "providers, and a commission spot-check.",
                platform_data=True)
days = st.select_slider("Window (days)", options=[1, 7, 14, 30], value=7, key="trend_days")


@st.cache_data(ttl=120, show_spinner="Loading the processing-time trend…")
def processing(days):
    return kit.service().processing_trend(days)


@st.cache_data(ttl=300, show_spinner="Loading the queue-depth heatmap…")
def heatmap():
    return kit.service().queue_heatmap()


@st.cache_data(ttl=120, show_spinner=False)
def payout_times(days):
    return kit.service().payout_execution_times(max(days, 30))


@st.cache_data(ttl=120, show_spinner=False)
def rpc(days):
    return kit.service().rpc_health(days)


def wall_clock(rows: list[dict], column: str = "hour") -> list[dict]:
    """The times in the viewer's timezone as wall-clock times (the chart draws them as given and
    its axis names the zone)."""
    return [{**r, column: kit.local(r[column]).replace(tzinfo=None)}
            if hasattr(r.get(column), "astimezone") else r for r in rows]


st.subheader("Processing time")
rows = kit.load(processing, days, what="the processing-time trend")
if rows is not None:
    if rows:
        st.plotly_chart(charts.processing_chart(wall_clock(rows),
                                                kit.settings().PROCESSING_TIME_WARN_SECONDS,
                                                kit.zone_name()), key="processing_chart")
        st.caption("Seconds from creation to completion of the intents completed in each hour.")
    else:
        st.info("No intent completed in this window.")

st.subheader("Queue depth by hour and weekday")
found = kit.load(heatmap, what="the queue-depth heatmap")
if found is not None:
    cells, source = found
    fig = charts.queue_heatmap(cells)
    if fig is None:
        st.info(f"No job waited in any hour of the window (from {source}).",
                icon=":material/check_circle:")
    else:
        st.plotly_chart(fig, key="queue_heatmap")
        st.caption(f"Mean waiting jobs per weekday and hour, from {source}; blank "
                   "cells: no sample in that hour.")

st.subheader("Payout approval → execution")
rows = kit.load(payout_times, days, what="the payout times")
if rows is not None:
    sla = kit.settings().PAYOUT_SLA_HOURS
    if rows:
        late = sum(1 for r in rows if r["hours"] > sla)
        st.plotly_chart(charts.payout_chart(wall_clock(rows, "executed_at"), sla,
                                            kit.zone_name()), key="payout_chart")
        st.caption(f"{len(rows)} executed batches, {late} past the {sla} h SLA.")
    else:
        st.info("No batch executed in this window.")

st.subheader("RPC providers")
rows = kit.load(rpc, days, what="the RPC calls")
if rows is not None:
    if rows:
        latency, uptime = charts.rpc_charts(wall_clock(rows), kit.zone_name())
        left, right = st.columns(2)
        left.plotly_chart(latency, key="rpc_latency")
        right.plotly_chart(uptime, key="rpc_uptime")
    else:
        st.info("No RPC call recorded in this window.")

st.subheader("Commission spot-check")
st.caption("10 random settlements: their commissions recomputed with the program's contract "
           "rates (amount = round(base × rate, 2)).")
if st.button("Draw 10 new settlements", key="spot_check_redraw"):
    st.session_state.pop("spot_check", None)
if "spot_check" not in st.session_state:
    st.session_state["spot_check"] = kit.load(kit.service().commission_spot_check,
                                              what="the spot-check")
spot = st.session_state.get("spot_check")
if spot is not None:
    if not spot:
        st.info("No settlement to check yet.")
    else:
        bad = [r for r in spot if r["matches"] is False]
        if bad:
            st.error(f"{len(bad)} commission(s) do not match the contract rates.", icon=":material/error:")
        else:
            st.success("Every sampled commission matches the contract rates.", icon=":material/check_circle:")
        kit.table(spot, hide_index=True, key="spot_check_table")
