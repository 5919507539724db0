"""Offline verification of an export folder: every figure in the manifest is recomputed from the
files themselves (hashes, sizes, row counts, control totals, period bounds) and every ledger
transaction must balance. No database is needed; the folder may have been copied anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import ExportError, first_line
from .manifest import MANIFEST, read_manifest, sha256_of
from .signing import SIGNATURE, check_signature
from .tables import JOURNAL, LEDGER, TABLES, TableSpec
from .totals import WIDE, money
from .. import check_names

SAMPLE = 20
# the format version that added a file: an earlier export has none, and verifies without it
ADDED_IN = {JOURNAL: 2, "breaker_overrides": 2, "silences": 2, "payout_items": 3}


@dataclass
class Mismatch:
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


@dataclass
class VerifyReport:
    folder: Path
    period: str | None
    mismatches: list[Mismatch] = field(default_factory=list)  # altered or inconsistent
    findings: list[Mismatch] = field(default_factory=list)    # in the books, exported faithfully
    files_checked: int = 0
    rows_checked: int = 0
    transactions_unbalanced: int = 0
    signed: bool = False
    signature_verified: bool = False

    @property
    def intact(self) -> bool:
        """The files are exactly as exported (hashes, sizes, counts, totals, signature)."""
        return not self.mismatches

    @property
    def ok(self) -> bool:
        """Intact, and the books it holds have no accounting findings."""
        return not self.mismatches and not self.findings

    @property
    def exit_code(self) -> int:
        """DESIGN §8: 0 intact, 1 altered or inconsistent, 2 intact with accounting findings."""
        return 1 if self.mismatches else 2 if self.findings else 0

    def add(self, file: str, problem: str) -> None:
        self.mismatches.append(Mismatch(file, problem))

    def find(self, file: str, problem: str) -> None:
        self.findings.append(Mismatch(file, problem))

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "period": self.period, "ok": self.ok,
                "intact": self.intact, "exit_code": self.exit_code,
                "files_checked": self.files_checked, "rows_checked": self.rows_checked,
                "transactions_unbalanced": self.transactions_unbalanced,
                "signed": self.signed, "signature_verified": self.signature_verified,
                "mismatches": [{"file": m.file, "problem": m.problem} for m in self.mismatches],
                "findings": [{"file": m.file, "problem": m.problem} for m in self.findings]}


def verify_export(folder: Path | str, *, expect_manifest_sha256: str | None = None,
                  public_key: str | None = None) -> VerifyReport:
    """Every check; an :class:`ExportError` (exit 3) when the folder cannot be verified at all:
    not a folder, no manifest, or a manifest malformed or crafted beyond reading."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    try:
        return _verify(folder, manifest, expect_manifest_sha256, public_key)
    except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
        raise ExportError(f"{folder / MANIFEST} is malformed ({type(exc).__name__}: "
                          f"{str(exc)[:200]}): the export could not be verified") from None


def _verify(folder: Path, manifest: dict[str, Any], expect_manifest_sha256: str | None,
            public_key: str | None) -> VerifyReport:
    report = VerifyReport(folder, manifest.get("period"))
    _check_folder_name(folder, manifest, report)
    report.signed = (folder / SIGNATURE).is_file()
    if public_key is not None:
        problem = check_signature(folder, public_key)
        if problem:
            report.add(SIGNATURE, problem)
        else:
            report.signature_verified = True
    if expect_manifest_sha256:
        actual = sha256_of(folder / MANIFEST)
        if actual != expect_manifest_sha256.strip().lower():
            report.add(MANIFEST, f"sha256 is {actual}, expected {expect_manifest_sha256} (the "
                                 "manifest differs from the one recorded at export)")
    files = _listed_files(manifest, report)
    _check_links(folder, [MANIFEST, SIGNATURE, *files], report)
    _check_hashes(folder, files, report)
    present = {name for name in files
               if (folder / name).is_file() and not (folder / name).is_symlink()}
    _check_schemas(folder, manifest, files, present, report)
    _check_contents(folder, manifest, files, present, report)
    _check_audit_db(folder, manifest, present, report)
    return report


def expected_tables(manifest: dict[str, Any]) -> list[TableSpec]:
    """The tables an export of this manifest's format version holds (a later version's are not
    in an earlier export)."""
    version = manifest.get("format_version")
    if not isinstance(version, int):
        version = 1
    return [spec for spec in TABLES if ADDED_IN.get(spec.name, 1) <= version]


def _check_audit_db(folder: Path, manifest: dict[str, Any], present: set[str],
                    report: VerifyReport) -> None:
    """audit.duckdb (what auditors query) holds exactly the views sge-recon writes over this
    folder's own files: not a view reading another file, nor a table of made-up figures."""
    from ..db import exports as store
    from .exporter import AUDIT_DB

    tables = {spec.name: spec.filename for spec in expected_tables(manifest)}
    if AUDIT_DB not in present or not set(tables.values()) <= present:
        return  # a missing file is named already; the views cannot be rebuilt without it
    for problem in store.audit_db_problems(folder, tables):
        report.add(AUDIT_DB, problem)


def _check_folder_name(folder: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """A folder named like a month is taken for that month (`export list`, the catch-up, the
    columnar engine): it must hold that month's export. Other names (an auditor's copy) are free."""
    from .period import is_period_label

    if is_period_label(folder.name) and folder.name != manifest.get("period"):
        report.add(folder.name, f"the folder is named {folder.name} but its manifest is the "
                                f"export of period {manifest.get('period')}: it was renamed or "
                                "moved; name it after its period")


def _listed_files(manifest: dict[str, Any], report: VerifyReport) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    entries = manifest.get("files")
    if not isinstance(entries, list):
        report.add(MANIFEST, "files is not a list")
        return files
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or Path(name).name != name or name in (MANIFEST, "", ".", ".."):
            report.add(MANIFEST, f"lists an invalid file name {name!r}")
            continue
        if name in files:
            report.add(MANIFEST, f"lists {name} twice")
        files[name] = entry
    from .exporter import AUDIT_DB

    if AUDIT_DB not in files:
        report.add(MANIFEST, f"does not list {AUDIT_DB} (the DuckDB views auditors query)")
    for spec in expected_tables(manifest):
        if spec.filename not in files:
            report.add(MANIFEST, f"does not list {spec.filename} (table {spec.qualified})")
    return files


def _check_links(folder: Path, names: list[str], report: VerifyReport) -> None:
    """An export holds its own files: a symbolic link would make the verified bytes those of a
    file outside the folder (changed at will there, or missing from a copy)."""
    for name in names:
        path = folder / name
        if path.is_symlink():
            report.add(name, f"is a symbolic link to {os.readlink(path)}, not a file of the "
                             "export folder; put the exported file itself in its place")


def _check_hashes(folder: Path, files: dict[str, dict[str, Any]], report: VerifyReport) -> None:
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            report.add(name, "is missing from the folder")
            continue
        report.files_checked += 1
        size = path.stat().st_size
        if size != entry.get("bytes"):
            report.add(name, f"has {size} bytes, the manifest says {entry.get('bytes')}")
        digest = sha256_of(path)
        if digest != entry.get("sha256"):
            report.add(name, f"sha256 is {digest}, the manifest says {entry.get('sha256')} "
                             "(the file was altered)")
    for path in sorted(folder.iterdir()):
        if path.name not in (MANIFEST, SIGNATURE) and path.name not in files:
            report.add(path.name, "is in the folder but not in the manifest")


def _check_schemas(folder: Path, manifest: dict[str, Any], files: dict[str, dict[str, Any]],
                   present: set[str], report: VerifyReport) -> None:
    """Each table file holds the table, the columns and the types its manifest entry states (a
    changed decimal scale, a renamed or extra column, two files swapped with their hashes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for spec in TABLES:
        name = spec.filename
        entry = files.get(name)
        if name not in present or entry is None:
            continue
        try:
            schema = pq.read_schema(folder / name)
        except (pa.ArrowException, OSError):
            continue  # named by the row count ("cannot be read as Parquet")
        meta = {k.decode(errors="replace"): v.decode(errors="replace")
                for k, v in (schema.metadata or {}).items()}
        table = meta.get("sge_recon.table")
        if table is not None and "table" in entry and table != entry["table"]:
            report.add(name, f"holds the table {table}, the manifest says {entry['table']}")
        period = meta.get("sge_recon.period")
        if period is not None and period != manifest.get("period"):
            report.add(name, f"holds rows exported for period {period}, the manifest is of "
                             f"{manifest.get('period')}")
        stated = entry.get("columns")
        if not stated and entry.get("in_source") is False and spec.fallback:
            from .stream import arrow_type  # absent from the source: the reference schema

            stated = [{"name": c.name, "parquet_type": str(arrow_type(c))} for c in spec.fallback]
        if not stated:
            continue
        want = {c["name"]: c["parquet_type"] for c in stated}
        have = {f.name: str(f.type) for f in schema}
        for column, kind in want.items():
            if column not in have:
                report.add(name, f"lacks the column {column} that the manifest lists")
            elif have[column] != kind:
                report.add(name, f"column {column} is {have[column]}, the manifest says {kind}")
        for column in have:
            if column not in want:
                report.add(name, f"has a column {column} that the manifest does not list")
        if set(have) == set(want) and list(have) != list(want):
            report.add(name, "holds the manifest's columns in another order")


def _check_contents(folder: Path, manifest: dict[str, Any], files: dict[str, dict[str, Any]],
                    present: set[str], report: VerifyReport) -> None:
    import duckdb

    from ..db import exports as store

    start, end = _range(manifest, report)
    # bounded like the export's own DuckDB work: an auditor's machine verifies a month of any
    # size (2.3 GB unbounded at 16.6 M entries)
    with store.steps_within_bound(folder) as db:
        for spec in TABLES:
            name = spec.filename
            if name not in present or name not in files:
                continue
            try:
                rows = db.run(store.parquet_row_count, store.in_folder(folder, name),
                              what=f"the rows of {name}")
            except duckdb.Error as exc:
                report.add(name, f"cannot be read as Parquet ({first_line(exc)})")
                continue
            report.rows_checked += rows
            if rows != files[name].get("rows"):
                report.add(name, f"holds {rows} rows, the manifest says {files[name].get('rows')}")
            if start is None or rows == 0:
                continue
            try:
                if spec.via:
                    key, _, parent, _ = spec.via
                    if f"{parent}.parquet" in present:
                        stray = db.run(store.orphans, store.in_folder(folder, name),
                                       store.in_folder(folder, f"{parent}.parquet"), key,
                                       spec.via_parent_key, what=f"the {parent} of {name}")
                        if stray:
                            report.add(name, f"{stray} rows belong to no {parent} row of the "
                                             "period")
                else:
                    outside = db.run(store.rows_outside, store.in_folder(folder, name),
                                     spec.time_column, start, end, what=f"the period of {name}")
                    if outside:
                        report.add(name, f"{outside} rows have {spec.time_column} outside "
                                         f"{manifest['period']}")
            except duckdb.Error as exc:
                report.add(name, f"cannot be checked ({first_line(exc)})")
        if LEDGER + ".parquet" in present:
            _check_ledger(db, folder, manifest, report)
        if JOURNAL + ".parquet" in present and manifest.get("format_version") != 1:
            _check_journal(db, folder, manifest, report)


def _ledger_figures(con, path: str, spanning: list[dict[str, Any]]):
    """The ledger file's control totals, unbalanced transactions and odd entries."""
    from ..db import exports as store

    computed = {(r["program_id"], r["currency"]): r for r in store.ledger_totals(con, path)}
    count, sample = store.unbalanced(con, path, SAMPLE, spanning)
    return computed, count, sample, store.bad_ledger_types(con, path)


def _check_ledger(db, folder: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    import duckdb

    from ..db import exports as store

    name = LEDGER + ".parquet"
    path = store.in_folder(folder, name)
    try:
        computed, count, sample, odd = db.run(_ledger_figures, path, _spanning(manifest, report),
                                              what=f"the control totals of {name}")
    except duckdb.OutOfRangeException as exc:  # an arithmetic limit, not an altered file
        raise ExportError(f"{folder / name}: the control totals exceed what DuckDB can add "
                          f"({first_line(exc)}); the export could not be verified") from None
    except duckdb.Error as exc:
        report.add(name, f"control totals cannot be computed ({first_line(exc)})")
        return
    if odd:
        report.find(name, f"{odd} entries are neither a positive debit nor a positive credit")
    stated = {}
    for entry in manifest.get("control_totals") or []:
        try:
            stated[(entry["program_id"], entry["currency"])] = entry
        except (TypeError, KeyError):
            report.add(MANIFEST, f"control_totals holds a malformed entry {entry!r}")
    for key in sorted(set(computed) | set(stated), key=str):
        label = f"control totals of program {key[0]} / {key[1]}"
        if key not in stated:
            report.add(MANIFEST, f"{label} are missing (the ledger file holds "
                                 f"{computed[key]['entry_count']} entries for them)")
            continue
        if key not in computed:
            report.add(MANIFEST, f"{label} are stated but the ledger file holds no such entries")
            continue
        got, want = computed[key], stated[key]
        for figure in ("debits", "credits"):
            if _decimal(want.get(figure)) != got[figure]:
                report.add(MANIFEST, f"{label}: {figure} stated {want.get(figure)}, the ledger "
                                     f"file sums to {money(got[figure], None)}")
        # the stated difference is a figure an auditor reads too ("0.000000" over unbalanced
        # books verified as intact); manifests from before it was written have none
        if "difference" in want and isinstance(got["debits"], Decimal) and \
                isinstance(got["credits"], Decimal):
            difference = WIDE.subtract(got["debits"], got["credits"])
            if _decimal(want["difference"]) != difference:
                report.add(MANIFEST, f"{label}: difference stated {want['difference']}, the "
                                     f"ledger file's debits − credits are "
                                     f"{money(difference, None)}")
        if want.get("entry_count") != got["entry_count"]:
            report.add(MANIFEST, f"{label}: entry_count stated {want.get('entry_count')}, the "
                                 f"ledger file holds {got['entry_count']}")
    report.transactions_unbalanced = count
    stated_count = _unbalanced_at_export(manifest, report)
    at_export = _transaction_check_at_export(manifest)
    failing = (" (the transaction_balance check was already failing when the export was "
               "taken: the source ledger itself is unbalanced)")
    if stated_count is not None:
        # the export counted them in the file it wrote: the same count is the source ledger's
        # own (exit 2), another one an altered file (exit 1), whatever a stored check said
        if stated_count == count:
            record, origin = report.find, failing if at_export == "fail" else (
                " (unbalanced in the source ledger when the export was taken: exported "
                "faithfully)")
        else:
            report.add(name, f"holds {count} unbalanced transactions, the manifest's "
                             f"unbalanced_at_export says {stated_count} (the ledger file was "
                             "altered)")
            record, origin = report.add, (f" (the export counted {stated_count} unbalanced "
                                          "transactions in this file: it may have been altered)")
    else:  # manifests written before unbalanced_at_export: the check stored at export time
        origin = {"fail": failing,
                  "pass": " (the transaction_balance check passed when the export was taken: "
                          "the ledger file may have been altered)"}.get(at_export or "", "")
        # Unbalanced transactions in files that match their hashes are the books as they were
        # (an accounting finding, exit 2), unless the export's own transaction_balance check
        # passed: then the file and the manifest disagree (exit 1).
        record = report.add if at_export == "pass" else report.find
    for row in sample:
        record(name, f"transaction {row['transaction_id']} ({row['program_id']}, "
                         f"{row['currency']}) does not balance: debits {money(row['debits'], None)}, "
                         f"credits {money(row['credits'], None)}, difference "
                         f"{money(row['difference'], None)}{origin}")
    if count > len(sample):
        record(name, f"… and {count - len(sample)} more unbalanced transactions "
                         "(SELECT * FROM unbalanced_transactions in audit.duckdb lists them all)")


def _check_journal(db, folder: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """Recompute the hash chain; a removed, inserted or altered entry is named by its seq."""
    import duckdb

    from ..db import exports as store
    from .journal import FILE, compare_anchors, walk

    try:
        chain = db.run(lambda con: walk(store.journal_entries(con, store.in_folder(folder, FILE))),
                       what=f"the chain of {FILE}")
    except duckdb.Error as exc:
        report.add(FILE, f"the journal cannot be read ({first_line(exc)})")
        return
    for problem in chain.problems:
        report.add(FILE, problem)
    if chain.problem_count > len(chain.problems):
        report.add(FILE, f"… and {chain.problem_count - len(chain.problems)} more journal "
                         "problems")
    stated = manifest.get("journal")
    if not isinstance(stated, dict):
        report.add(MANIFEST, "lacks the journal's anchors (first/last seq and hash)")
        return
    for problem in compare_anchors(chain, stated):
        report.add(FILE, problem)


def _spanning(manifest: dict[str, Any], report: VerifyReport) -> list[dict[str, Any]]:
    """The manifest's spanning_transactions (transactions with entries in other months too,
    unbalanced within this file by nature), checked for shape; absent before they existed."""
    stated = manifest.get("spanning_transactions")
    if stated is None:
        return []
    entries = stated.get("entries") if isinstance(stated, dict) else None
    if not isinstance(entries, list):
        report.add(MANIFEST, "spanning_transactions is not an object with a list of entries")
        return []
    out = []
    for entry in entries:
        keys_ok = isinstance(entry, dict) and all(
            isinstance(entry.get(k), (str, type(None)))
            for k in ("transaction_id", "program_id", "currency"))
        figures = [_decimal(entry.get(k)) if keys_ok else None for k in ("debits", "credits")]
        if not keys_ok or None in figures:
            report.add(MANIFEST, f"spanning_transactions holds a malformed entry {entry!r}")
            continue
        out.append({**{k: entry[k] for k in ("transaction_id", "program_id", "currency")},
                    "debits": figures[0], "credits": figures[1]})
    return out


def _unbalanced_at_export(manifest: dict[str, Any], report: VerifyReport) -> int | None:
    """The manifest's unbalanced_at_export count; None when absent (written before it was)."""
    if "unbalanced_at_export" not in manifest:
        return None
    stated = manifest["unbalanced_at_export"]
    count = stated.get("count") if isinstance(stated, dict) else None
    if type(count) is not int or count < 0:
        report.add(MANIFEST, f"unbalanced_at_export is malformed ({stated!r}); it states the "
                             "count of unbalanced transactions the export wrote")
        return None
    return count


def _transaction_check_at_export(manifest: dict[str, Any]) -> str | None:
    """Status of the transaction_balance check stored when the export was taken, if any."""
    checks = manifest.get("checks_at_export")
    results = checks.get("results") if isinstance(checks, dict) else None
    for result in results if isinstance(results, list) else []:
        if isinstance(result, dict) and result.get("name") == check_names.TRANSACTION_BALANCE:
            return result.get("status")
    return None


def _range(manifest: dict[str, Any], report: VerifyReport) -> tuple[datetime | None, datetime | None]:
    from .period import Period, parse_period

    try:
        period: Period = parse_period(str(manifest.get("period")))
    except ExportError:
        raise
    except Exception:
        report.add(MANIFEST, f"period {manifest.get('period')!r} is not a valid past month")
        return None, None
    stated = manifest.get("range") or {}
    if stated.get("from") != period.start.isoformat() or stated.get("to") != period.end.isoformat():
        report.add(MANIFEST, f"range {stated.get('from')} – {stated.get('to')} does not match "
                             f"period {period}")
    return period.start, period.end


def _decimal(text: Any) -> Decimal | None:
    """A stated total as a Decimal; None when it is none (a control total is never NaN or
    infinite: the export refuses those, and comparing an 'sNaN' raises)."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None
