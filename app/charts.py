"""The Trends page's charts, built from the library's rows (plain Plotly figures, no Streamlit):
kept apart so that each can be checked on its own (tests/test_console_charts.py) and the page
only places them.

Chart coordinates are floats (Plotly's), never money arithmetic: amounts are shown in hover
texts as the exact strings the library gives.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from console_format import shown_controls
from sge_recon.money import money_exact

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
GREEN, RED, GREY = "#2e7d32", "#c62828", "#607d8b"
PALETTE = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f"]
LAYOUT = dict(margin=dict(t=30, b=40, l=60, r=20), hovermode="x unified",
              legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))


def _text(value: Any) -> str:
    """A platform string for a legend or hover text: Plotly renders its pseudo-HTML there (<a
    href> becomes a link, <b> bold), so <, > and & are written as entities; it shows as stored,
    its invisible characters (a right-to-left override) as ⟨U+202E⟩."""
    return html.escape(shown_controls(str(value)), quote=False)


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _padded_range(times: list[datetime], pad: float = 0.03) -> list[datetime]:
    """An x range that shows the first and the last point whole (Plotly's default cuts a
    marker at the edge in half)."""
    start, end = min(times), max(times)
    margin = max((end - start) * pad, timedelta(minutes=30))
    return [start - margin, end + margin]


def processing_chart(rows: list[dict], warn_seconds: Any, zone: str = "UTC") -> go.Figure:
    hours = [r["hour"] for r in rows]
    fig = go.Figure()
    fig.add_scatter(x=hours, y=[_f(r["mean_seconds"]) for r in rows], name="mean",
                    mode="lines+markers", marker=dict(size=4), line=dict(color=PALETTE[0]))
    fig.add_scatter(x=hours, y=[_f(r["p95_seconds"]) for r in rows], name="p95",
                    mode="lines", line=dict(color=PALETTE[1], dash="dot"))
    fig.add_hline(y=float(warn_seconds), line_dash="dash", line_color=RED,
                  annotation_text=f"warn {warn_seconds} s", annotation_position="top left")
    fig.update_layout(yaxis_title="seconds", xaxis_title=f"hour ({zone})", height=320, **LAYOUT)
    fig.update_xaxes(range=_padded_range(hours))
    fig.update_yaxes(rangemode="tozero")
    return fig


def heatmap_grid(cells: list[dict]) -> list[list[float | None]]:
    """7 × 24 mean depths (Monday first); None where the window has no sample for that hour."""
    grid: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for c in cells:
        grid[int(c["weekday"]) - 1][int(c["hour"])] = _f(c["depth"])
    return grid


def queue_heatmap(cells: list[dict]) -> go.Figure | None:
    """Weekday × hour mean depth; None when there is nothing to colour (no sample, or the
    queue was empty in every hour: one flat colour says nothing)."""
    grid = heatmap_grid(cells)
    values = [v for row in grid for v in row if v is not None]
    if not values or max(values) == 0:
        return None
    fig = go.Figure(go.Heatmap(
        z=grid, x=[f"{h:02d}" for h in range(24)], y=WEEKDAYS, zmin=0, zmax=max(values),
        colorscale="YlOrRd", hoverongaps=False, xgap=1, ygap=1,
        colorbar=dict(title="waiting"),
        hovertemplate="%{y} %{x}:00 UTC<br>mean %{z:.1f} jobs waiting<extra></extra>"))
    fig.update_layout(height=300, margin=dict(t=20, b=40, l=50, r=20),
                      xaxis_title="hour (UTC)", yaxis=dict(autorange="reversed"))
    return fig


def payout_chart(rows: list[dict], sla_hours: Any, zone: str = "UTC") -> go.Figure:
    """Approval → execution per executed batch, in time; past the SLA in red."""
    sla = Decimal(str(sla_hours))
    fig = go.Figure()
    for label, colour, late in (("within SLA", GREEN, False), ("past SLA", RED, True)):
        part = [r for r in rows if (Decimal(str(r["hours"])) > sla) is late]
        if not part:
            continue
        fig.add_scatter(
            x=[r["executed_at"] for r in part], y=[_f(r["hours"]) for r in part], name=label,
            mode="markers", marker=dict(size=10, color=colour, line=dict(width=1, color="white")),
            customdata=[[_text(r["batch_id"]), _text(r["program_id"]),
                         money_exact(r["total_amount"])] for r in part],
            hovertemplate="batch %{customdata[0]} (program %{customdata[1]})<br>"
                          "%{y:.1f} h from approval to execution<br>total %{customdata[2]}"
                          "<extra></extra>")
    fig.add_hline(y=float(sla), line_dash="dash", line_color=GREY,
                  annotation_text=f"{sla_hours} h SLA", annotation_position="top left")
    fig.update_layout(yaxis_title="hours from approval to execution",
                      xaxis_title=f"executed ({zone})", height=300,
                      **{**LAYOUT, "hovermode": "closest"})
    fig.update_xaxes(range=_padded_range([r["executed_at"] for r in rows]))
    fig.update_yaxes(rangemode="tozero")
    return fig


def rpc_charts(rows: list[dict], zone: str = "UTC") -> tuple[go.Figure, go.Figure]:
    """p95 latency and uptime per provider, one colour each, markers on every hour (a provider
    with few calls stays visible), uptime's axis ending just above 100 %."""
    providers = sorted({r["provider"] for r in rows})
    latency, uptime = go.Figure(), go.Figure()
    for i, provider in enumerate(providers):
        part = [r for r in rows if r["provider"] == provider]
        colour = PALETTE[i % len(PALETTE)]
        style = dict(mode="lines+markers", marker=dict(size=4), line=dict(color=colour, width=2))
        latency.add_scatter(x=[r["hour"] for r in part],
                            y=[_f(r["p95_latency_ms"]) for r in part], name=_text(provider),
                            **style)
        uptime.add_scatter(x=[r["hour"] for r in part], y=[_f(r["uptime_pct"]) for r in part],
                           name=_text(provider), **style)
    hours = [r["hour"] for r in rows]
    lowest = min((_f(r["uptime_pct"]) or 0.0 for r in rows), default=100.0)
    # the axis names the measure (a figure title would sit on the legend)
    latency.update_layout(yaxis_title="p95 latency (ms)", xaxis_title=f"hour ({zone})",
                          height=300, **LAYOUT)
    uptime.update_layout(yaxis_title="uptime (%)", xaxis_title=f"hour ({zone})", height=300,
                         **LAYOUT)
    for fig in (latency, uptime):
        fig.update_xaxes(range=_padded_range(hours))
    latency.update_yaxes(rangemode="tozero")
    uptime.update_yaxes(range=[max(0.0, lowest - 2), 100.5])
    return latency, uptime
