"""Which audit exports the columnar engine (``check --engine duckdb``) may read: the period
folders under EXPORTS_DIR whose manifest verifies (``export verify``: every hash, row count and
control total; accounting findings in the books are the books, not damage) and whose ledger file
keeps money as decimal(38,6). Each comes with its ledger file's fingerprint; the engine then
proves it against PostgreSQL's rows of the month (sge_recon.db.columnar)."""

from __future__ import annotations

from pathlib import Path

from ..db import columnar
from ..errors import ReconError
from .tables import LEDGER


def usable_months(out_dir: Path | str) -> tuple[list[columnar.MonthFile], dict[str, str]]:
    """The verified exported months (oldest first) and, per month not used, why."""
    from . import ExportService
    from .period import parse_period
    from .verifier import verify_export

    months, skipped = [], {}
    for summary in sorted(ExportService(out_dir=out_dir).list_periods(), key=lambda s: s.period):
        label = summary.period
        if summary.problem:
            skipped[label] = summary.problem
            continue
        try:
            report = verify_export(summary.directory)
        except ReconError as exc:
            skipped[label] = f"cannot be verified: {exc.message}"
            continue
        if not report.intact:
            skipped[label] = f"does not verify: {report.mismatches[0]}"
            continue
        path = summary.directory / f"{LEDGER}.parquet"
        money = columnar.parquet_money_type(path)
        if money != columnar.MONEY_TYPE:
            skipped[label] = f"its ledger amounts are {money}, not {columnar.MONEY_TYPE}"
            continue
        period = parse_period(label)
        months.append(columnar.MonthFile(label, period.start, period.end, path,
                                         columnar.file_fingerprint(path)))
    return months, skipped
