"""sge-recon's own DuckDB work beside an export, in bounded memory: the ledger file's unbalanced
transactions (the manifest's spanning_transactions and unbalanced_at_export)."""

from __future__ import annotations

import tempfile
from contextlib import closing, contextmanager

from .audit_db import in_folder, open_audit_db, unbalanced

# DuckDB's work beside an export (the ledger file's unbalanced transactions) took 370 MB more than
# the export's ~200 MB at 2 M entries (1.25 GB at 8 M), past its 400 MB target. Bounded it spills;
# one thread spills where two ran out of memory at 16 M entries (0.7 s at 2 M, 13 s at 16 M).
_BOUNDED = ("SET memory_limit = '128MB'", "SET threads = 1",
            "SET preserve_insertion_order = false")


@contextmanager
def bounded_audit_db(folder):
    """``open_audit_db`` with DuckDB's memory bounded, spilling to a temporary folder (removed
    at exit; DuckDB's default is ``.tmp`` in the working directory)."""
    with tempfile.TemporaryDirectory(prefix="sge-recon-spill-") as spill, \
            closing(open_audit_db(folder)) as con:  # closed first, then its folder removed
        for setting in _BOUNDED:
            con.execute(setting)
        con.execute("SET temp_directory = ?", [spill])
        yield con


def unbalanced_within_bound(folder, filename: str, limit: int) -> tuple[int, list[dict]]:
    """``unbalanced`` of the export's ledger file, in a bounded DuckDB; where DuckDB cannot spill
    within the bound (it ran out of memory), again without it: a memory bound must never fail an
    export that the machine's memory allows."""
    import duckdb

    try:
        with bounded_audit_db(folder) as con:
            return unbalanced(con, in_folder(folder, filename), limit)
    except duckdb.OutOfMemoryException:
        with closing(open_audit_db(folder)) as con:
            return unbalanced(con, in_folder(folder, filename), limit)
