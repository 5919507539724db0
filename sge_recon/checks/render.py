"""Text renderings of a run for terminals (the CLI prints them; the library only returns text)."""

from __future__ import annotations

import json
from typing import Callable

from .model import CheckResult, RunResult, json_value, report_value

STATUS_COLOURS = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta",
                  "unavailable": "bright_black"}
TOP_ROWS = 3
_MAX_CELL = 40


def run_json(run: RunResult) -> str:
    return json.dumps(run.to_json(), indent=2)


def run_table(run: RunResult, style: Callable[..., str] = lambda text, **kw: text,
              top_rows: int = TOP_ROWS) -> str:
    """A compact, aligned report: one line per check, then the top rows of each non-pass."""
    lines = [style(f"Check run {run.run_id} ({run.engine} engine) "
                   f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC", bold=True)]
    width = max((len(c.name) for c in run.checks), default=10)
    lines.append(f"  {'STATUS':<11}  {'CHECK':<{width}}  PRIO  {'RESULT':<30}  TIME")
    for c in run.checks:
        lines.append(f"  {_status(c.status, style)}  {c.name:<{width}}  {c.priority or '':<4}  "
                     f"{_measure(c):<30}  {_duration(c.duration_ms)}")
    for c in run.checks:
        if c.status == "pass":
            continue
        lines.append("")
        lines.append(style(f"{c.name} — {c.status}", fg=STATUS_COLOURS[c.status], bold=True))
        if c.error:
            lines.append(f"  error: {c.error}")
        if c.reason:
            lines.append(f"  not available here: {c.reason}")
        for row in c.rows[:top_rows]:
            lines.append("  " + "  ".join(f"{k}={_cell(v)}" for k, v in row.items()))
        hidden = (c.failing_rows if c.failing_rows is not None else len(c.rows)) - top_rows
        if hidden > 0 and c.rows:
            lines.append(f"  … and {hidden} more row{'s' if hidden != 1 else ''}")
    counts = {s: sum(1 for c in run.checks if c.status == s) for s in STATUS_COLOURS}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines.append("")
    overall = style(run.status.upper(), fg=STATUS_COLOURS.get(run.status), bold=True)
    lines.append(f"Overall: {overall} ({summary or 'no checks'}; "
                 f"{_duration((run.finished_at - run.started_at).total_seconds() * 1000)})")
    return "\n".join(lines)


def _status(status: str, style: Callable[..., str]) -> str:
    return style(f"{status.upper():<11}", fg=STATUS_COLOURS.get(status), bold=True)


def _measure(c: CheckResult) -> str:
    if c.status == "error":
        return "could not run"
    if c.status == "unavailable":
        return "no data on this platform"
    value = report_value(c.name, c.value)  # a status code as its word, as in --format json
    if c.failing_rows is not None:
        text = f"{c.failing_rows} failing row{'s' if c.failing_rows != 1 else ''}"
        return text + (f", value {value}" if c.value is not None else "")
    return f"value {value}" if c.value is not None else "no value"


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _cell(value: object) -> str:
    text = str(json_value(value)) if value is not None else "null"
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "…"
