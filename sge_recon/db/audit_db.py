"""The audit database of an export (DESIGN §8): DuckDB over the exported Parquet files.

``audit.duckdb``'s views and the queries of ``export verify`` and of the export's journal anchors.
"""

from __future__ import annotations

import re
import tempfile
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Sequence

from ..errors import ExportError
from .. import check_names
from .duckdb_paths import attachable as _attachable, plain_path as _plain_path
from .duckdb_paths import search_path_for

# Views read the Parquet files by paths relative to the export folder, so the folder works
# wherever it is unpacked. DuckDB resolves a relative path against the working directory FIRST,
# then `file_search_path`: the views are meant to be read inside the folder (`cd` into it).
# sge-recon's own queries (verify, the journal's anchors) therefore use absolute paths, and
# audit.duckdb is built where no other export's file can shadow its own (build_audit_db).
#
# Sums stay exact past DuckDB's 38 digits of accumulation: each amount of DECIMAL(38,s) is split
# into hi = trunc(amount / 10^K) and lo = amount - hi * 10^K (only amounts >= 10^K are split:
# CASE evaluates the split for those rows only), summed apart (neither sum can overflow) and
# combined. A view shows DECIMAL(38,s); a sum that needs more digits than that cannot be shown
# in it, and the view then fails with a message that says so (rather than wrapping or rounding).

_PART = "__sge_{}_{}"  # hidden per-row parts of a money column: __sge_hi_amount, __sge_lo_amount


def _split_digits(scale: int | None) -> int:
    """K for a DECIMAL(38, scale) column, 0 when the column is not split (not a decimal)."""
    return 0 if scale is None else (38 - scale) // 2


def _parts(column: str, scale: int | None) -> str:
    """The select-list items that add the hi/lo parts of ``column``."""
    hi, lo, col = _PART.format("hi", column), _PART.format("lo", column), f'"{_ident(column)}"'
    k = _split_digits(scale)
    if not k:
        return f'0::DECIMAL(38,0) AS "{hi}", {col} AS "{lo}"'
    trunc = f"trunc({col} * '1e-{k}'::DECIMAL(38,{k}))"
    big = f"abs({col}) >= '1e{k}'::DECIMAL(38,0)"
    return (f'CASE WHEN {big} THEN {trunc} ELSE 0 END AS "{hi}", '
            f"CASE WHEN {big} THEN {col} - {trunc} * '1e{k}'::DECIMAL(38,0) ELSE {col} END "
            f'AS "{lo}"')


def _exact_sum(column: str, scale: int | None, where: str | None, view: str) -> str:
    """Aggregate: the exact sum of ``column`` (0 when no row), from its parts."""
    k = _split_digits(scale)
    hi, lo = _PART.format("hi", column), _PART.format("lo", column)
    flt = f" FILTER (WHERE {where})" if where else ""
    if not k or scale is None:
        return f'coalesce(sum("{_ident(column)}"){flt}, 0)'
    limit = f"{0.999 * 10 ** (38 - scale):.6e}"
    message = (f"{view}: a sum of {column} needs more than the 38 digits of DECIMAL(38,{scale}) "
               "and cannot be shown in this view; manifest.json states the control "
               "totals of the ledger exactly and `sge-recon export verify` checks them")
    return (f'CASE WHEN abs(sum("{_ident(column)}"::DOUBLE){flt}) >= {limit} '
            f"THEN error('{message}') "
            f'ELSE coalesce(sum("{hi}"){flt} * \'1e{k}\'::DECIMAL(38,0) + sum("{lo}"){flt}, 0) END')


def audit_views(scales: dict[str, int | None]) -> dict[str, str]:
    """The ready views; ``scales``: the decimal scale of ledger_entries.amount ("ledger") and of
    commissions.amount / .base_amount ("commissions", "commissions_base"), None if not decimal."""
    led, com, base = scales.get("ledger"), scales.get("commissions"), scales.get("commissions_base")

    def ledger_sums(view: str) -> str:
        debit, credit = "type = 'debit'", "type = 'credit'"
        return (f"{_exact_sum('amount', led, debit, view)} AS debits, "
                f"{_exact_sum('amount', led, credit, view)} AS credits")

    ledger = f"(SELECT *, {_parts('amount', led)} FROM ledger_entries)"
    return {
        "trial_balance": f"""
        SELECT program_id, currency, debits AS total_debits, credits AS total_credits,
               debits - credits AS difference, entry_count
        FROM (SELECT program_id, currency, {ledger_sums('trial_balance')}, count(*) AS entry_count
              FROM {ledger} GROUP BY program_id, currency)
        ORDER BY program_id, currency""",
        "account_balances": f"""
        SELECT program_id, currency, account, debits, credits, debits - credits AS balance,
               entry_count
        FROM (SELECT program_id, currency, account, {ledger_sums('account_balances')},
                     count(*) AS entry_count
              FROM {ledger} GROUP BY program_id, currency, account)
        ORDER BY program_id, currency, account""",
        check_names.TRANSACTION_BALANCE: f"""
        SELECT transaction_id, program_id, currency, created_at, debits, credits,
               debits - credits AS difference, entry_count
        FROM (SELECT transaction_id, program_id, currency, min(created_at) AS created_at,
                     {ledger_sums(check_names.TRANSACTION_BALANCE)}, count(*) AS entry_count
              FROM {ledger} GROUP BY transaction_id, program_id, currency)""",
        "unbalanced_transactions": """
        SELECT * FROM transaction_balance WHERE difference <> 0
        ORDER BY transaction_id, currency""",
        "commissions_by_affiliate": f"""
        SELECT program_id, affiliate_id, count(*) AS commission_count,
               {_exact_sum('amount', com, None, 'commissions_by_affiliate')} AS total_amount,
               {_exact_sum('amount', com, "status = 'accrued'", 'commissions_by_affiliate')}
                   AS accrued_amount,
               {_exact_sum('amount', com, "status = 'payable'", 'commissions_by_affiliate')}
                   AS payable_amount,
               {_exact_sum('amount', com, "status = 'paid'", 'commissions_by_affiliate')}
                   AS paid_amount,
               {_exact_sum('amount', com, "status = 'cancelled'", 'commissions_by_affiliate')}
                   AS cancelled_amount,
               {_exact_sum('base_amount', base, None, 'commissions_by_affiliate')} AS base_amount
        FROM (SELECT *, {_parts('amount', com)}, {_parts('base_amount', base)} FROM commissions)
        GROUP BY program_id, affiliate_id ORDER BY program_id, affiliate_id""",
    }


AUDIT_VIEW_NAMES = ("trial_balance", "account_balances", check_names.TRANSACTION_BALANCE,
                    "unbalanced_transactions", "commissions_by_affiliate")


def open_audit_db(folder, *, database: str = ":memory:", read_only: bool = False):
    """A DuckDB connection whose relative paths resolve inside the export ``folder`` (unless
    the working directory holds a file of that name: sge-recon's own queries use absolute
    paths, see ``in_folder``)."""
    import duckdb

    con = duckdb.connect(database, read_only=read_only)
    con.execute("SET file_search_path = ?", [search_path_for(con, Path(folder))])
    return con


def in_folder(folder, filename: str) -> str:
    """The file of an export as sge-recon's own queries name it: its absolute path, because
    DuckDB looks for a relative name in the working directory first (another export's folder,
    say) and only then in ``file_search_path``. A folder whose path holds a glob character
    (DuckDB would expand it) keeps the relative name, which is safe unless the working directory
    holds a file of that name: that is refused rather than read."""
    folder = Path(folder).resolve()
    path = folder / filename
    if not any(c in str(path) for c in "*?[{"):
        return str(path)
    if Path.cwd().resolve() != folder and Path(filename).exists():
        raise ExportError(f"{folder}'s path holds a glob character and the working directory "
                          f"holds another {filename}: DuckDB would read that one; run from "
                          "another folder")
    return filename


# audit.duckdb must open in the DuckDB that auditors install: 1.4 LTS and newer (DESIGN §8). The
# default storage of the DuckDB that writes it (2.x) is unreadable by 1.x, so it is written in
# the 1.4 storage format (readable by every later version).
AUDIT_DB_STORAGE_VERSION = "v1.4.0"


def decimal_scale(con, path: str, column: str) -> int | None:
    """The scale of ``column`` in a Parquet file when it is a DECIMAL, else None."""
    import re

    row = con.execute(f'DESCRIBE SELECT "{_ident(column)}" FROM read_parquet(\'{_literal(path)}\')'
                      ).fetchone()
    found = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", str(row[1])) if row else None
    return int(found.group(2)) if found else None


def create_audit_db(folder, tables: dict[str, str]) -> None:
    """Write ``folder/audit.duckdb``: one view per Parquet file (view name -> file) + ready views,
    in the storage format of DuckDB 1.4 LTS.

    The views name their files relatively (the folder is relocatable) and DuckDB binds them when
    they are created, resolving those names in the working directory first: when it holds a file
    of one of those names (another export's folder), the views are built by a child process
    whose working directory is the export folder, so that they bind to this export's files."""
    import json
    import os
    import subprocess
    import sys

    folder = Path(folder).resolve()
    if Path.cwd().resolve() != folder and any(Path(f).exists() for f in tables.values()):
        code = ("import json, sys; from sge_recon.db.audit_db import create_audit_db; "
                "create_audit_db(sys.argv[1], json.loads(sys.argv[2]))")
        done = subprocess.run([sys.executable, "-c", code, str(folder), json.dumps(tables)],
                              cwd=folder, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        if done.returncode != 0:
            raise ExportError(f"writing {folder / 'audit.duckdb'} failed: "
                              f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return
    _create_audit_db(folder, tables)


def _create_audit_db(folder, tables: dict[str, str]) -> None:
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        with _attachable(folder / "audit.duckdb", write=True) as path:
            con.execute(f"ATTACH '{_literal(path)}' AS audit "
                        f"(STORAGE_VERSION '{AUDIT_DB_STORAGE_VERSION}')")
            con.execute("USE audit")
            _define_views(con, folder, tables)
            con.execute("CHECKPOINT")
            con.execute("USE memory")
            con.execute("DETACH audit")
    finally:
        con.close()


def _define_views(con, folder: Path, tables: dict[str, str]) -> None:
    """audit.duckdb's views, created in ``con``'s current database."""
    with _plain_path(folder) as searched:
        # set first: a folder with a glob character is read by relative names (in_folder)
        con.execute("SET file_search_path = ?", [searched])
        scales = {
            "ledger": _scale_of(con, folder, tables, "ledger_entries", "amount"),
            "commissions": _scale_of(con, folder, tables, "commissions", "amount"),
            "commissions_base": _scale_of(con, folder, tables, "commissions", "base_amount")}
        for view, filename in tables.items():  # bound (the files found) as they are created
            con.execute(f'CREATE VIEW "{_ident(view)}" AS '
                        f"SELECT * FROM read_parquet('{_literal(filename)}')")
        for view, body in audit_views(scales).items():  # bound over the views above
            con.execute(f'CREATE VIEW "{view}" AS {body}')


_CATALOG = ("SELECT 'view' AS kind, schema_name || '.' || view_name AS name, sql "
            "FROM duckdb_views() WHERE database_name = ? AND NOT internal "
            "UNION ALL SELECT 'table', schema_name || '.' || table_name, sql "
            "FROM duckdb_tables() WHERE database_name = ? "
            "UNION ALL SELECT 'macro', schema_name || '.' || function_name, NULL "
            "FROM duckdb_functions() WHERE database_name = ? AND NOT internal "
            "UNION ALL SELECT 'sequence', schema_name || '.' || sequence_name, NULL "
            "FROM duckdb_sequences() WHERE database_name = ?")


def audit_db_problems(folder, tables: dict[str, str]) -> list[str]:
    """How ``folder/audit.duckdb`` differs from the one sge-recon writes for these files (a view
    reading another file, a view or table added, a view changed), each as a sentence; empty
    when it holds exactly the expected views. Every file of ``tables`` must exist."""
    import duckdb

    folder = Path(folder).resolve()
    con = duckdb.connect(":memory:")
    try:
        with _attachable(folder / "audit.duckdb", write=False) as path:
            try:
                con.execute(f"ATTACH '{_literal(path)}' AS audit (READ_ONLY)")
            except duckdb.Error as exc:
                return [f"cannot be opened as a DuckDB database ({str(exc).splitlines()[0]})"]
            found = _catalog(con, "audit")
            con.execute("DETACH audit")
        with tempfile.TemporaryDirectory(prefix="sge-recon-verify-") as scratch:
            # written and read back as audit.duckdb is: the stored text is DuckDB's own rendering
            path = _literal(str(Path(scratch) / "expected.duckdb"))
            con.execute(f"ATTACH '{path}' AS expected "
                        f"(STORAGE_VERSION '{AUDIT_DB_STORAGE_VERSION}')")
            con.execute("USE expected")
            try:
                _define_views(con, folder, tables)
            except duckdb.Error as exc:
                return [f"cannot be checked: its views cannot be rebuilt over these files "
                        f"({str(exc).splitlines()[0]})"]
            con.execute("CHECKPOINT")
            con.execute("USE memory")
            con.execute("DETACH expected")
            con.execute(f"ATTACH '{path}' AS expected (READ_ONLY)")
            wanted = _catalog(con, "expected")
            con.execute("DETACH expected")
    finally:
        con.close()
    problems = []
    for (kind, name), text in sorted(found.items()):
        if (kind, name) not in wanted:
            problems.append(f"holds a {kind} {name} that sge-recon does not write")
        elif _squeeze(text) == _squeeze(wanted[(kind, name)]):
            continue
        elif name.split(".", 1)[-1] not in AUDIT_VIEW_NAMES or _reads_files(text or ""):
            problems.append(f"its {kind} {name} is not the one sge-recon writes: it is "
                            f"{_squeeze(text)[:300]!r}")
        # else: a ready view as an earlier sge-recon (or DuckDB) wrote it, over the table views
    for kind, name in sorted(set(wanted) - set(found)):
        problems.append(f"lacks the {kind} {name}")
    return problems


def _catalog(con, database: str) -> dict[tuple[str, str], str | None]:
    rows = con.execute(_CATALOG, [database] * 4).fetchall()
    return {(kind, name): text for kind, name, text in rows}


# What a ready view must not do: read a file, a database or a URL itself (table functions, a
# string or a quoted name with a dot, slash or colon in FROM/JOIN, which DuckDB reads as a file)
# instead of the folder's table views.
_READS = re.compile(r"\b(read_\w+|\w+_scan|glob|query|query_table|sniff_csv|parquet_\w+|"
                    r"iceberg_\w+|delta_\w+)\s*\(|\b(FROM|JOIN)\s*\(?\s*('|\"[^\"]*[./:\\])",
                    re.IGNORECASE)


def _reads_files(text: str) -> bool:
    return _READS.search(text) is not None


def _squeeze(text: str | None) -> str:
    return " ".join((text or "").split())


def _scale_of(con, folder, tables: dict[str, str], view: str, column: str) -> int | None:
    if view not in tables:
        return None
    try:
        return decimal_scale(con, in_folder(folder, tables[view]), column)
    except Exception:  # no such column: that view's plain sum will say so when it is read
        return None


def audit_view_names() -> list[str]:
    return list(AUDIT_VIEW_NAMES)


def parquet_row_count(con, filename: str) -> int:
    return con.execute(f"SELECT count(*) FROM read_parquet('{_literal(filename)}')").fetchone()[0]


def rows_outside(con, filename: str, column: str, start, end) -> int:
    """Rows whose ``column`` lies outside [start, end): an export holds only its month."""
    return con.execute(
        f"SELECT count(*) FROM read_parquet('{_literal(filename)}') "
        f'WHERE "{_ident(column)}" IS NULL OR "{_ident(column)}" < ? OR "{_ident(column)}" >= ?',
        [start, end]).fetchone()[0]


def orphans(con, child: str, parent: str, key: str, parent_key: str | None = None) -> int:
    """Rows of ``child`` whose ``key`` is not among ``parent``'s ``parent_key`` (default: the
    same name), e.g. results of another month's runs."""
    return con.execute(
        f"SELECT count(*) FROM read_parquet('{_literal(child)}') c WHERE NOT EXISTS "
        f"(SELECT 1 FROM read_parquet('{_literal(parent)}') p "
        f'WHERE p."{_ident(parent_key or key)}" = c."{_ident(key)}")').fetchone()[0]


def _combine(hi, lo, digits: int) -> Decimal:
    """hi * 10^digits + lo, exactly (NULL parts count as 0)."""
    with localcontext() as ctx:
        ctx.prec = 100
        return Decimal(hi or 0).scaleb(digits) + Decimal(lo or 0)


def _ledger_parts(filename: str, scale: int | None) -> str:
    return f"(SELECT *, {_parts('amount', scale)} FROM read_parquet('{_literal(filename)}'))"


def ledger_totals(con, filename: str) -> list[dict]:
    """Control totals per program and currency, recomputed from the ledger file: exact at the
    amount column's own scale, past the 38 digits DuckDB can add (the parts, combined here);
    ``entry_count`` counts rows (a NULL amount too)."""
    scale = decimal_scale(con, filename, "amount")
    hi, lo = f'"{_PART.format("hi", "amount")}"', f'"{_PART.format("lo", "amount")}"'
    cur = con.execute(
        "SELECT program_id, currency,"
        f" sum({hi}) FILTER (WHERE type = 'debit'), sum({lo}) FILTER (WHERE type = 'debit'),"
        f" sum({hi}) FILTER (WHERE type = 'credit'), sum({lo}) FILTER (WHERE type = 'credit'),"
        f" count(*) FROM {_ledger_parts(filename, scale)} GROUP BY ALL ORDER BY ALL")
    k = _split_digits(scale)
    return [{"program_id": program, "currency": currency, "debits": _combine(dh, dl, k),
             "credits": _combine(ch, cl, k), "entry_count": n}
            for program, currency, dh, dl, ch, cl, n in cur.fetchall()]


def unbalanced(con, filename: str, limit: int,
               accepted: Sequence[dict] = ()) -> tuple[int, list[dict]]:
    """Transactions whose debits and credits differ (per currency): the count and a sample.
    Exact past 38 digits: the signed parts are compared, never a sum that could overflow.

    ``accepted``: transactions known to continue in other months (the manifest's
    spanning_transactions: transaction_id, program_id, currency, debits, credits as Decimal);
    one whose figures in the file are exactly those is left out, any other still counts."""
    scale = decimal_scale(con, filename, "amount")
    k = _split_digits(scale)
    hi, lo = f'"{_PART.format("hi", "amount")}"', f'"{_PART.format("lo", "amount")}"'

    def signed(part: str) -> str:
        return (f"coalesce(sum(CASE type WHEN 'debit' THEN {part} "
                f"WHEN 'credit' THEN -{part} END), 0)")

    if k:  # zero iff sl + sh * 10^k = 0, which can only hold when sh * 10^k fits the scale;
        # compared as sl = -(sh * 10^k), never added: the sum of two values that fit may not
        # (a debit of 10^32 - 0.000001 beside a debit of 1 is 10^32, past DECIMAL(38,6))
        balanced = (f"CASE WHEN abs(sh) < '1e{38 - (scale or 0) - k}'::DECIMAL(38,0) "
                    f"THEN sl = -(sh * '1e{k}'::DECIMAL(38,0)) ELSE false END")
    else:
        balanced = "sl = 0"
    base = (
        "SELECT transaction_id, program_id, currency,"
        f" sum({hi}) FILTER (WHERE type = 'debit') AS dh,"
        f" sum({lo}) FILTER (WHERE type = 'debit') AS dl,"
        f" sum({hi}) FILTER (WHERE type = 'credit') AS ch,"
        f" sum({lo}) FILTER (WHERE type = 'credit') AS cl,"
        f" {signed(hi)} AS sh, {signed(lo)} AS sl "
        f"FROM {_ledger_parts(filename, scale)} GROUP BY transaction_id, program_id, currency")
    # grouped once (the count, the sample and the spanning ones read the few unbalanced rows)
    con.execute(f"CREATE OR REPLACE TEMP TABLE sge_unbalanced AS "
                f"SELECT * FROM ({base}) WHERE NOT ({balanced})")
    where = "SELECT * FROM sge_unbalanced"
    if accepted:
        where = _leave_out(con, where, k, accepted)
    count = con.execute(f"SELECT count(*) FROM ({where})").fetchone()[0]
    # program_id too: a transaction unbalanced in two programs is sampled in one order (two
    # connections, e.g. verify's bounded one and its fallback, wrote different reports)
    cur = con.execute(f"{where} ORDER BY transaction_id, currency, program_id LIMIT ?", [limit])
    return count, [_figures(row, k) for row in cur.fetchall()]


def _figures(row: tuple, k: int) -> dict:
    txn, program, currency, dh, dl, ch, cl, _, _ = row
    debits, credits = _combine(dh, dl, k), _combine(ch, cl, k)
    with localcontext() as ctx:
        ctx.prec = 100
        difference = debits - credits
    return {"transaction_id": txn, "program_id": program, "currency": currency,
            "debits": debits, "credits": credits, "difference": difference}


_SAME_KEY = ("s.transaction_id IS NOT DISTINCT FROM u.transaction_id AND "
             "s.program_id IS NOT DISTINCT FROM u.program_id AND "
             "s.currency IS NOT DISTINCT FROM u.currency")


def _leave_out(con, where: str, k: int, accepted: Sequence[dict]) -> str:
    """``where`` without the unbalanced transactions whose key and figures are ``accepted``."""
    def keys(name: str, rows: Sequence[dict]) -> None:  # temp tables: no Python objects
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (transaction_id VARCHAR, "
                    "program_id VARCHAR, currency VARCHAR)")
        if rows:
            con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?)",
                            [[r["transaction_id"], r["program_id"], r["currency"]]
                             for r in rows])

    keys("sge_spanning_stated", accepted)
    stated = {(r["transaction_id"], r["program_id"], r["currency"]): (r["debits"], r["credits"])
              for r in accepted}
    found = [_figures(row, k) for row in con.execute(
        f"SELECT u.* FROM ({where}) AS u WHERE EXISTS (SELECT 1 FROM sge_spanning_stated s "
        f"WHERE {_SAME_KEY})").fetchall()]
    same = [f for f in found if stated.get((f["transaction_id"], f["program_id"],
                                            f["currency"])) == (f["debits"], f["credits"])]
    keys("sge_spanning_same", same)
    return (f"SELECT * FROM ({where}) AS u WHERE NOT EXISTS (SELECT 1 FROM sge_spanning_same s "
            f"WHERE {_SAME_KEY})")


def bad_ledger_types(con, filename: str) -> int:
    """Entries that are neither debit nor credit, or not positive: they would skew the totals."""
    return con.execute(
        f"SELECT count(*) FROM read_parquet('{_literal(filename)}') "
        "WHERE type IS NULL OR type NOT IN ('debit', 'credit') OR amount IS NULL OR amount <= 0"
    ).fetchone()[0]


def _ident(name: str) -> str:
    if '"' in name or "\x00" in name:
        raise ExportError(f"unsupported name {name!r} in an export")
    return name


def _literal(text: str) -> str:
    """``text`` inside a SQL string literal (a file name or an absolute path)."""
    if "\x00" in text:
        raise ExportError(f"unsupported file name {text!r} in an export")
    return text.replace("'", "''")


def journal_entries(con, filename: str, batch: int = 10_000):
    """The exported journal's entries (seq, prev_hash, hash, event) in chain order, streamed."""
    cur = con.execute("SELECT seq, prev_hash, hash, event "
                      f"FROM read_parquet('{_literal(filename)}') ORDER BY seq")
    while rows := cur.fetchmany(batch):
        yield from rows
