"""What the fused journal pass saves (issue 18, item 2): the checks of each fused query
(checks/fused/) timed together, as the full run takes them (one pass), and one by one, as they
run with FUSED_LEDGER_PASS off (each from its own .sql: one sort of the ledger each). Plain
figures; the benchmark (``sge-recon bench``) reports them against its per-program floor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sge_recon.checks.service import CheckService


@dataclass
class FusedTiming:
    name: str                      # the fused query
    members: list[str]
    fused_s: float                 # the members in one run: the fused query (best of `repeat`)
    separate_s: float              # the members one by one, each from its own .sql (best of)
    separate_by_check_s: dict[str, float] = field(default_factory=dict)
    used: bool = True              # the run really took the members from the fused query
    same_results: bool = True      # status, count and sample equal both ways

    @property
    def saved_s(self) -> float:
        return self.separate_s - self.fused_s


def bench_fused(service: CheckService, repeat: int = 1) -> list[FusedTiming]:
    """Each fused query of the catalogue: its members' run time fused and separately, warm (the
    best of ``repeat`` after a first touch), with whether both give the same results."""
    if not service.settings.FUSED_LEDGER_PASS:  # turned off here: time it as it would run
        service = service.with_settings(FUSED_LEDGER_PASS=True)
    out = []
    for query in service.fused():
        members = list(query.members)
        service.run(only=members, store=False, trigger="bench")  # warm the pages
        fused_s, fused_run = _best(lambda m=members: service.run(only=m, store=False,
                                                                 trigger="bench"), repeat)
        by_check, alone = {}, {}
        for name in members:
            by_check[name], run = _best(lambda n=name: service.run(only=[n], store=False,
                                                                   trigger="bench"), repeat)
            alone[name] = run.by_name()[name]
        got = fused_run.by_name()
        out.append(FusedTiming(
            name=query.name, members=members, fused_s=fused_s,
            separate_s=sum(by_check.values()), separate_by_check_s=by_check,
            used=all((got[n].details or {}).get("fused") == query.name for n in members),
            same_results=all((got[n].status, got[n].failing_rows, got[n].rows)
                             == (alone[n].status, alone[n].failing_rows, alone[n].rows)
                             for n in members)))
    return out


def _best(run, repeat: int):
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result
