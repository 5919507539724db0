"""The columnar engine (``sge-recon check --engine duckdb``): the full-history ledger checks
evaluated in DuckDB over the Parquet files of the monthly audit exports plus the live tail of
``ledger_entries`` read from PostgreSQL, with the results the PostgreSQL engine gives.

What it serves: ledger_balance, transaction_balance, commission_ledger and
journal_single_program, each from its DuckDB form ``checks/duckdb/<name>.sql`` (which lists the
sha256 of the PostgreSQL file it mirrors: an edited check stands aside until its form follows).
Everything else runs on PostgreSQL as in a SQL run, and so does a served check when the engine
cannot give PostgreSQL's answer for certain; each result's ``engine`` says which produced it, and
``details.columnar_fallback`` why a served check ran on PostgreSQL:

* an export is used only when it verifies (``export verify``: hashes, counts, control totals) and
  its ledger rows match PostgreSQL's rows of that month now (count and fingerprint, in the same
  snapshot as the tail). A month changed since its export (rows updated, deleted, inserted late)
  is read live from PostgreSQL, so the answer is the live ledger's, never the export's;
* ``ledger_tamper`` always runs on PostgreSQL: it compares the live rows with the checkpoint's
  fingerprint (PostgreSQL's hash), and sees a modification of exported history as before;
* a sum beyond DECIMAL(38) (PostgreSQL's numeric has no bound) or a DuckDB failure;
* failing rows whose order depends on a text collation other than byte order (the database's
  collation is not C): DuckDB sorts by bytes, so such a sample is taken from PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .. import check_names
from ..db import Database
from ..db import columnar
from ..errors import ReconError
from .loader import stale_mirror
from .model import CheckDefinition, CheckResult, FusedQuery
from .sql_engine import evaluate, run_sql_checks

ENGINE = "duckdb"
FORMS_DIR = "duckdb"          # checks/duckdb/<name>.sql
SERVED = (check_names.LEDGER_BALANCE, check_names.TRANSACTION_BALANCE,
          check_names.COMMISSION_LEDGER, check_names.JOURNAL_SINGLE_PROGRAM)
log = logging.getLogger(__name__)

# exports directory -> the exported months usable for the sweep, and why others are not
ExportFinder = Callable[[], "tuple[list[columnar.MonthFile], dict[str, str]]"]


@dataclass
class SweepReport:
    """What the columnar sweep read (stored in each served result's details)."""

    exports: list[str] = field(default_factory=list)        # months read from Parquet
    changed: list[str] = field(default_factory=list)        # exported, but changed: read live
    skipped: dict[str, str] = field(default_factory=dict)   # exports not used, and why
    tail_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    memory_limit: str | None = None  # DuckDB's (COLUMNAR_MEMORY_LIMIT), as it reads it

    def as_details(self) -> dict:
        return {"exports": self.exports, "changed_since_export": self.changed,
                "exports_skipped": self.skipped, "live_rows": self.tail_rows,
                "memory_limit": self.memory_limit,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def forms(checks_dir: Path, definitions: Sequence[CheckDefinition]) -> dict[str, tuple[str, str | None]]:
    """Check name -> (its DuckDB SQL, why it cannot be used or None), for the served checks."""
    out: dict[str, tuple[str, str | None]] = {}
    by_name = {d.name: d for d in definitions}
    for name in SERVED:
        d = by_name.get(name)
        if d is None:
            continue
        path = Path(checks_dir) / FORMS_DIR / f"{name}.sql"
        try:
            sql = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out[name] = ("", f"{path}: cannot be read ({exc})")
            continue
        out[name] = (sql, d.problem or stale_mirror(path, [d]))
    return out


def run_columnar_checks(definitions: list[CheckDefinition], db: Database,
                        params: Mapping[str, Decimal | int], sample_rows: int, checks_dir: Path,
                        find_exports: ExportFinder,
                        fused: Sequence[FusedQuery] = (),
                        memory_limit: str | None = None) -> list[CheckResult]:
    """Every definition's result, in order: the served ledger checks from DuckDB where it gives
    PostgreSQL's answer, the rest (and those) from the SQL engine. ``memory_limit``: DuckDB's
    (COLUMNAR_MEMORY_LIMIT as DuckDB reads it; None: DuckDB's default)."""
    from concurrent.futures import ThreadPoolExecutor

    sql_forms = forms(checks_dir, definitions)
    reasons = {n: p for n, (_, p) in sql_forms.items() if p}
    served = [d for d in definitions if d.name in sql_forms and d.name not in reasons]
    # the checks PostgreSQL runs anyway (ledger_tamper, the non-ledger ones) run meanwhile on
    # their own connection: the server works while DuckDB does (two cores, not one after other)
    others = [d for d in definitions if d not in served]
    results: dict[str, CheckResult] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sge-recon-sql") as pool:
        elsewhere = pool.submit(run_sql_checks, others, db, params, sample_rows, None, fused)
        if served:
            results, more = _sweep(served, sql_forms, db, params, sample_rows, find_exports,
                                   memory_limit)
            reasons.update(more)
        done = elsewhere.result()
    for name, why in reasons.items():
        log.warning("%s runs on PostgreSQL, not DuckDB: %s", name, why)
    fallen = [d for d in served if d.name not in results]
    for result in done + run_sql_checks(fallen, db, params, sample_rows, None, fused):
        if result.name in reasons:
            result.details = {**(result.details or {}), "columnar_fallback": reasons[result.name]}
        results[result.name] = result
    return [results[d.name] for d in definitions]


def _sweep(served: list[CheckDefinition], sql_forms: dict[str, tuple[str, str | None]],
           db: Database, params: Mapping[str, Decimal | int], sample_rows: int,
           find_exports: ExportFinder, memory_limit: str | None
           ) -> tuple[dict[str, CheckResult], dict[str, str]]:
    report = SweepReport()
    clock = time.perf_counter()
    try:
        months, report.skipped = find_exports()
        report.seconds["verify_s"] = time.perf_counter() - clock
        live = columnar.read_live(db, months)
    except (ReconError, OSError) as exc:
        why = f"the columnar sweep could not be prepared: {getattr(exc, 'message', exc)}"
        return {}, {d.name: why for d in served}
    report.exports = [m.period for m in live.proven]
    report.changed = live.changed
    report.tail_rows = live.tail.num_rows
    report.seconds.update(live.fetch_seconds)
    results, reasons = {}, {}
    with columnar.ColumnarSweep(live, memory_limit=memory_limit) as sweep:
        report.memory_limit = sweep.memory_limit
        for d in served:
            started = time.perf_counter()
            try:
                count, rows = sweep.measure(
                    sql_forms[d.name][0], params, sample_rows,
                    needs_commissions=d.name == check_names.COMMISSION_LEDGER)
            except columnar.SweepOverflow as exc:
                reasons[d.name] = (f"a sum does not fit DuckDB's DECIMAL(38) ({exc}); "
                                   "PostgreSQL's numeric holds it")
                continue
            except columnar.SweepQueryError as exc:
                reasons[d.name] = f"its DuckDB form failed: {exc}"
                continue
            if count and not live.bytewise_order:
                reasons[d.name] = (f"{count} failing rows ordered by the database's collation "
                                   f"{live.collation!r}, which DuckDB's byte order does not "
                                   "reproduce")
                continue
            details = {"columnar": report.as_details()}
            results[d.name] = evaluate(d, count, None, rows, started, ENGINE, details=details)
    report.seconds["total_s"] = time.perf_counter() - clock
    prepared_ms = (report.seconds["total_s"] * 1000
                   - sum(r.duration_ms for r in results.values()))
    for result in results.values():  # the shared preparation, shared out as the fused pass does
        result.details = {"columnar": report.as_details()}
        result.duration_ms += prepared_ms / len(results)
    return results, reasons
