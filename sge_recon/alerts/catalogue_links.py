"""What the check catalogue (checks/checks.yml) says about the rules' findings: their priority,
their runbook's first steps and which finding is caused by which (``caused_by``), never code."""

from __future__ import annotations

import re
from typing import Any

from .rules import Finding


def apply_catalogue(findings: list[Finding], catalogue: dict[str, Any]) -> list[Finding]:
    """Take each finding's priority and first steps from its check's catalogue entry."""
    for finding in findings:
        definition = catalogue.get(finding.rule.check)
        if definition is None:
            continue
        if getattr(definition, "priority", None) in ("P0", "P1", "P2", "P3"):
            finding.priority = definition.priority
        steps = runbook_steps(getattr(definition, "runbook", "") or "")
        if steps:
            finding.first_steps = steps
    return sorted(findings, key=lambda f: (f.priority, f.kind, f.key))


def cause_of(findings: list[Finding], catalogue: dict[str, Any]) -> dict[tuple, Finding]:
    """Each finding that is an effect of another finding present now, mapped to its root cause.
    The chain is declared in the catalogue (checks.yml ``caused_by``: e.g. queue_depth caused by
    worker_status; stuck_intents by worker_status or queue_depth), never in code."""
    by_check = {f.rule.check: f for f in findings}

    def direct(f: Finding) -> Finding | None:
        declared = getattr(catalogue.get(f.rule.check), "caused_by", ()) or ()
        return next((by_check[c] for c in declared if c in by_check and by_check[c] is not f),
                    None)

    out = {}
    for f in findings:
        cause, seen = direct(f), {id(f)}
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            upper = direct(cause)
            if upper is None or id(upper) in seen:
                break
            cause = upper
        if cause is not None:
            out[(f.kind, f.key)] = cause
    return out


def runbook_steps(text: str, limit: int = 3) -> list[str]:
    """The numbered steps of a runbook text ("1. …" lines, continuation lines joined)."""
    steps: list[str] = []
    for line in text.splitlines():
        match = re.match(r"\s*\d+\.\s+(.*)", line)
        if match:
            steps.append(match.group(1).strip())
        elif steps and line.strip():
            steps[-1] += " " + line.strip()
    return steps[:limit]
