"""Trends: the weekly deep dive (Plotly)."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import console_kit as kit

kit.page_header("Trends", "The weekly deep dive: processing time, queue depth, payout times, RPC "
                          "providers, and a commission spot-check.")
days = st.select_slider("Window (days)", options=[1, 7, 14, 30], value=7, key="trend_days")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


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


def floats(rows, *names):
    """Chart coordinates only (never money arithmetic): Plotly wants floats."""
    return [{**r, **{n: float(r[n]) if r[n] is not None else None for n in names}} for r in rows]


def wall_clock(rows: list[dict], column: str = "hour") -> list[dict]:
    """The hours in the viewer's timezone as wall-clock times (the chart draws them as given and
    its axis names the zone)."""
    return [{**r, column: kit.local(r[column]).replace(tzinfo=None)}
            if hasattr(r.get(column), "astimezone") else r for r in rows]


st.subheader("Processing time")
rows = kit.load(processing, days, what="the processing-time trend")
if rows is not None:
    if rows:
        fig = go.Figure()
        data = wall_clock(floats(rows, "mean_seconds", "p95_seconds"))
        fig.add_scatter(x=[r["hour"] for r in data], y=[r["mean_seconds"] for r in data],
                        name="mean")
        fig.add_scatter(x=[r["hour"] for r in data], y=[r["p95_seconds"] for r in data],
                        name="p95")
        fig.add_hline(y=float(kit.settings().PROCESSING_TIME_WARN_SECONDS), line_dash="dot",
                      annotation_text="warn")
        fig.update_layout(yaxis_title="seconds", xaxis_title=f"hour ({kit.zone_name()})",
                          height=320, margin=dict(t=20, b=20))
        st.plotly_chart(fig, key="processing_chart")
    else:
        st.info("No intent completed in this window.")

st.subheader("Queue depth by hour and weekday")
found = kit.load(heatmap, what="the queue-depth heatmap")
if found is not None:
    cells, source = found
    grid = [[None] * 24 for _ in range(7)]
    for c in cells:
        grid[c["weekday"] - 1][c["hour"]] = float(c["depth"])
    fig = px.imshow(grid, x=list(range(24)), y=WEEKDAYS, aspect="auto", zmin=0,
                    zmax=max([v for row in grid for v in row if v is not None] + [1]),
                    color_continuous_scale="YlOrRd", labels=dict(x="hour (UTC)", color="depth"))
    fig.update_layout(height=300, margin=dict(t=20, b=20))
    st.plotly_chart(fig, key="queue_heatmap")
    st.caption(f"Mean waiting jobs, from {source}.")

st.subheader("Payout approval → execution")
rows = kit.load(payout_times, days, what="the payout times")
if rows is not None:
    sla = kit.settings().PAYOUT_SLA_HOURS
    if rows:
        data = floats(rows, "hours")
        late = sum(1 for r in data if r["hours"] > sla)
        fig = px.bar(data, x="batch_id", y="hours", color=[r["hours"] > sla for r in data],
                     color_discrete_map={False: "#2e7d32", True: "#c62828"},
                     labels={"color": "past SLA"})
        fig.add_hline(y=sla, line_dash="dash", annotation_text=f"{sla} h SLA")
        fig.update_layout(height=300, margin=dict(t=20, b=20))
        st.plotly_chart(fig, key="payout_chart")
        st.caption(f"{len(rows)} executed batches, {late} past the {sla} h SLA.")
    else:
        st.info("No batch executed in this window.")

st.subheader("RPC providers")
rows = kit.load(rpc, days, what="the RPC calls")
if rows is not None:
    if rows:
        data = wall_clock(floats(rows, "mean_latency_ms", "p95_latency_ms", "uptime_pct"))
        left, right = st.columns(2)
        hour = {"hour": f"hour ({kit.zone_name()})"}
        left.plotly_chart(px.line(data, x="hour", y="p95_latency_ms", color="provider",
                                  title="p95 latency (ms)", height=300, labels=hour),
                          key="rpc_latency")
        right.plotly_chart(px.line(data, x="hour", y="uptime_pct", color="provider",
                                   title="uptime (%)", height=300, labels=hour), key="rpc_uptime")
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
