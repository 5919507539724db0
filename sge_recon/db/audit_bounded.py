"""sge-recon's own DuckDB work over an export folder, in bounded memory: the export's grouping of
the ledger file it wrote (spanning_transactions, unbalanced_at_export) and `export verify`."""

from __future__ import annotations

import logging
from contextlib import ExitStack, closing, contextmanager

from ..errors import ExportError, first_line
from .audit_db import in_folder, open_audit_db, unbalanced
from .duckdb_paths import private_spill

log = logging.getLogger(__name__)

# DuckDB's work beside an export (the ledger file's unbalanced transactions) took 370 MB more than
# the export's ~200 MB at 2 M entries (1.25 GB at 8 M), past its 400 MB target; `export verify`
# took 2.3 GB for a month of 16.6 M entries. Bounded it spills; one thread spills where two ran
# out of memory at 16 M entries (0.7 s at 2 M, 13 s at 16 M).
_BOUNDED = ("SET memory_limit = '128MB'", "SET threads = 1",
            "SET preserve_insertion_order = false")


@contextmanager
def bounded_audit_db(folder):
    """``open_audit_db`` with DuckDB's memory bounded, spilling to a temporary folder (removed
    at exit; DuckDB's default is ``.tmp`` in the working directory)."""
    con, spill = open_audit_db(folder), None
    try:
        spill = private_spill(con)
        for setting in _BOUNDED:
            con.execute(setting)
        yield con
    finally:
        con.close()  # before its spill folder is removed
        if spill is not None:
            spill.cleanup()


class StepsWithinBound:
    """Runs DuckDB steps over an export folder in the bounded connection; a step that cannot
    spill within the bound (DuckDB ran out of memory) runs again without it, on a connection
    opened when first needed: a memory bound must never fail what the machine's memory allows."""

    def __init__(self, folder, bounded, stack: ExitStack):
        self.folder, self._bounded, self._stack = folder, bounded, stack
        self._unbounded = None
        self.bound, self._spill = bounded.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()

    def run(self, step, *args, what: str):
        """``step(con, *args)``. Out of memory even unbounded is an :class:`ExportError` naming
        ``what``: never a finding about the files (a `duckdb.Error` the caller may report)."""
        import duckdb

        try:
            return step(self._bounded, *args)
        except duckdb.OutOfMemoryException:
            pass  # handled outside the except: the retry's own error is not chained to it
        # said, because the process may now take more memory than the bound promises
        log.warning("DuckDB could not spill %s within %s; running it without that bound",
                    what, self.bound)
        if self._unbounded is None:
            unbounded = self._stack.enter_context(closing(open_audit_db(self.folder)))
            # spilling beyond DuckDB's default (80 % of the memory) too: to the private folder,
            # not DuckDB's default .tmp in the working directory
            unbounded.execute("SET temp_directory = ?", [self._spill])
            self._unbounded = unbounded
        try:
            return step(self._unbounded, *args)
        except duckdb.OutOfMemoryException as exc:
            raise ExportError(f"{self.folder}: DuckDB ran out of memory on {what} "
                              f"({first_line(exc)}), even without sge-recon's bound; this says "
                              "nothing about the files. Free memory, or run it on a machine with "
                              "more, and run it again") from None


@contextmanager
def steps_within_bound(folder):
    """A :class:`StepsWithinBound` over ``folder``, its connections closed at exit."""
    with ExitStack() as stack:
        bounded = stack.enter_context(bounded_audit_db(folder))
        yield StepsWithinBound(folder, bounded, stack)


def unbalanced_within_bound(folder, filename: str, limit: int) -> tuple[int, list[dict]]:
    """``unbalanced`` of the export's ledger file, in bounded memory (see StepsWithinBound)."""
    with steps_within_bound(folder) as steps:
        return steps.run(unbalanced, in_folder(folder, filename), limit,
                         what=f"the unbalanced transactions of {filename}")
