"""The Trends page's charts (app/charts.py) as figures: what an ops lead reads off them is
checked here, beside the screenshots the browser test takes."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

import charts  # noqa: E402

T0 = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)


def test_the_heatmap_leaves_hours_without_samples_blank_and_skips_a_flat_queue():
    cells = [{"weekday": 1, "hour": 9, "depth": Decimal("12.5")},
             {"weekday": 7, "hour": 23, "depth": Decimal("0")}]
    grid = charts.heatmap_grid(cells)
    assert grid[0][9] == 12.5 and grid[6][23] == 0.0
    assert sum(v is None for row in grid for v in row) == 7 * 24 - 2
    fig = charts.queue_heatmap(cells)
    heat = fig.data[0]
    assert heat.hoverongaps is False and heat.zmax == 12.5 and list(heat.y) == charts.WEEKDAYS
    assert list(heat.x)[:3] == ["00", "01", "02"]
    assert charts.queue_heatmap([]) is None
    assert charts.queue_heatmap([{"weekday": 2, "hour": 3, "depth": Decimal(0)}]) is None


def test_payout_times_are_points_in_time_named_within_or_past_the_sla():
    rows = [{"batch_id": f"b{i}", "program_id": "p1", "total_amount": Decimal("10.00"),
             "executed_at": T0 + timedelta(hours=6 * i), "hours": Decimal(h)}
            for i, h in enumerate(("2.5", "30.0", "24.0", "1.0"))]
    fig = charts.payout_chart(rows, 24)
    named = {t.name: len(t.x) for t in fig.data}
    assert named == {"within SLA": 3, "past SLA": 1}  # exactly 24 h is within
    assert all(t.mode == "markers" for t in fig.data)  # never 1-px bars
    low, high = fig.layout.xaxis.range
    assert low < rows[0]["executed_at"] and high > rows[-1]["executed_at"]
    only_late = charts.payout_chart(rows[1:2], 24)
    assert [t.name for t in only_late.data] == ["past SLA"]  # no empty "within" legend


def test_rpc_charts_one_coloured_line_per_provider_and_uptime_below_the_top():
    rows = [{"provider": p, "hour": T0 + timedelta(hours=h), "p95_latency_ms": Decimal(lat),
             "uptime_pct": Decimal(up)}
            for p, lat, up in (("alchemy", "120", "100"), ("infura", "300", "97.5"))
            for h in range(3)]
    latency, uptime = charts.rpc_charts(rows)
    assert [t.name for t in latency.data] == ["alchemy", "infura"]
    assert latency.data[0].line.color != latency.data[1].line.color
    assert tuple(uptime.layout.yaxis.range) == (95.5, 100.5)
    assert uptime.layout.xaxis.range[1] > rows[-1]["hour"]


def test_processing_shows_the_last_hour_whole_and_the_warn_line():
    rows = [{"hour": T0 + timedelta(hours=h), "mean_seconds": Decimal("2.5"),
             "p95_seconds": Decimal("4.0")} for h in range(5)]
    fig = charts.processing_chart(rows, 5)
    assert fig.layout.xaxis.range[1] > rows[-1]["hour"]
    assert [t.name for t in fig.data] == ["mean", "p95"]
    assert any("warn 5 s" in (a.text or "") for a in fig.layout.annotations)


def test_a_providers_or_batchs_markup_is_shown_as_text_in_the_charts():
    """Plotly renders pseudo-HTML in legends and hover texts (an <a href> in a provider's name
    became a link in the legend, in Chromium): platform strings go in as entities."""
    evil = "<a href='http://evil.example'>alchemy</a> & <b>co</b>"
    shown = "&lt;a href='http://evil.example'&gt;alchemy&lt;/a&gt; &amp; &lt;b&gt;co&lt;/b&gt;"
    latency, uptime = charts.rpc_charts([{"provider": evil, "hour": T0, "p95_latency_ms": 1,
                                          "uptime_pct": 100}])
    assert [t.name for t in latency.data] == [shown] == [t.name for t in uptime.data]
    fig = charts.payout_chart([{"batch_id": evil, "program_id": "<i>p</i>",
                                "total_amount": Decimal("10000000000000000000000000000000"),
                                "executed_at": T0, "hours": Decimal("1")}], 24)
    assert list(fig.data[0].customdata[0]) == [
        shown, "&lt;i&gt;p&lt;/i&gt;", "10,000,000,000,000,000,000,000,000,000,000.00"]


def test_a_providers_or_batchs_hidden_characters_are_shown_in_the_charts():
    """A right-to-left override in a provider's name (the legend) or a batch id (the hover
    text) is drawn as ⟨U+202E⟩, as every other place of the console shows it."""
    latency, uptime = charts.rpc_charts([{"provider": "alc\u202eymeh", "hour": T0,
                                          "p95_latency_ms": 1, "uptime_pct": 100}])
    assert [t.name for t in latency.data] == ["alc⟨U+202E⟩ymeh"] == [t.name for t in uptime.data]
    fig = charts.payout_chart([{"batch_id": "batch_\u202e99", "program_id": "prog_\u200b1",
                                "total_amount": Decimal("1"), "executed_at": T0,
                                "hours": Decimal("1")}], 24)
    assert list(fig.data[0].customdata[0])[:2] == ["batch_⟨U+202E⟩99", "prog_⟨U+200B⟩1"]
