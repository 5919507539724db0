"""Benchmark of the checks engine: per-check time, the suite, the suite through GX, and the suite
against the sum of its raw queries (what the wrapping and bookkeeping cost). Returns figures; the
CLI prints them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sge_recon.checks import sqltext
from sge_recon.checks.service import CheckService
from sge_recon.db.checks import CheckQueryError, CheckSession


@dataclass
class CheckTiming:
    name: str
    raw_ms: float | None         # the bare SELECT, all rows fetched
    raw_rows: int | None
    suite_ms: float              # inside the SQL suite: wrapped count + bounded sample
    gx_ms: float | None = None
    status: str = ""


@dataclass
class BenchReport:
    checks: list[CheckTiming] = field(default_factory=list)
    suite_ms: float = 0.0        # wall time of the SQL suite run
    raw_sum_ms: float = 0.0
    gx_import_ms: float | None = None
    gx_suite_ms: float | None = None
    parity: bool | None = None   # GX statuses and counts equal to SQL's

    @property
    def ratio(self) -> float:
        return self.suite_ms / self.raw_sum_ms if self.raw_sum_ms else float("nan")


def run_bench(service: CheckService, *, gx: bool = True, only: list[str] | None = None,
              warmup: bool = True) -> BenchReport:
    definitions = service.select(only)
    params = service.params
    if warmup:  # the first touch of a table pays for reading it from disk; measure steady state
        service.run(only=only, store=False)
    report = BenchReport()
    raw: dict[str, tuple[float | None, int | None]] = {}
    # one connection, like the suite, with its session settings (CHECK_WORK_MEM): a raw query
    # at the server's own work_mem would spill where the suite does not, or the reverse
    with CheckSession(service.check_db) as session:
        session.raw_row_count("SELECT 1", {})
        for d in definitions:
            started = time.perf_counter()
            try:
                rows = session.raw_row_count(sqltext.for_psycopg(d.sql), params)
                raw[d.name] = ((time.perf_counter() - started) * 1000, rows)
            except CheckQueryError:
                raw[d.name] = (None, None)
    started = time.perf_counter()
    run = service.run(only=only, store=False, trigger="bench")
    report.suite_ms = (time.perf_counter() - started) * 1000
    for c in run.checks:
        raw_ms, raw_rows = raw.get(c.name, (None, None))
        report.checks.append(CheckTiming(c.name, raw_ms, raw_rows, c.duration_ms,
                                         status=c.status))
    report.raw_sum_ms = sum(t.raw_ms for t in report.checks if t.raw_ms is not None)
    if gx:
        from sge_recon.checks.gx_engine import import_gx

        report.gx_import_ms = import_gx()
        started = time.perf_counter()
        gx_run = service.run(only=only, engine="gx", store=False, trigger="bench")
        report.gx_suite_ms = (time.perf_counter() - started) * 1000
        by_name = gx_run.by_name()
        for t in report.checks:
            t.gx_ms = by_name[t.name].duration_ms
        report.parity = all((by_name[c.name].status, by_name[c.name].failing_rows)
                            == (c.status, c.failing_rows) for c in run.checks)
    return report
