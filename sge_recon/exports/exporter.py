"""Write one month's audit export: Parquet files, ``audit.duckdb``, ``README.txt`` and
``manifest.json`` in ``DIR/<period>/``.

Atomic: everything is written into a hidden sibling ``DIR/.<period>.partial-<pid>-<token>``,
fsynced, and renamed into place only when complete, so a killed export never leaves a half period
(the next export of that month removes the dead one's leftovers). ``DIR/.<period>.lock`` is
flock-ed while an export of that period runs: the kernel drops it with the process. An existing period is kept: it is
refused, or with ``force`` renamed aside to ``<period>.replaced-<UTC time>``.
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..db import Database
from ..db import exports as store
from ..db.job_runs import database_now
from ..errors import AlreadyRunning, ExportError
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, file_entry, sha256_of, write_manifest
from .period import Period
from .readme import readme_text
from .spanning import spanning_transactions
from .tables import LEDGER, TABLES, Column, TableSpec

# Partial folders being written by this process (the console may export from several threads).
_ACTIVE: set[Path] = set()
_ACTIVE_LOCK = threading.Lock()

AUDIT_DB = "audit.duckdb"
README = "README.txt"
PARTIAL = ".partial-"
REPLACED = ".replaced-"


class ExportExists(ExportError):
    """The period was exported before; ``--force`` replaces it (keeping the earlier version)."""


@dataclass
class Progress:
    """Where an export is: table ``index`` of ``total``, rows of that table streamed so far."""

    table: str
    index: int
    total: int
    rows: int
    done: bool = False


ProgressFn = Callable[[Progress], None]


@dataclass
class ExportResult:
    period: str
    directory: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    seconds: float
    replaced: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(f.get("rows") or 0 for f in self.manifest["files"])

    @property
    def total_bytes(self) -> int:
        return sum(f["bytes"] for f in self.manifest["files"])


class Exporter:
    def __init__(self, db: Database, out_dir: Path | str, *, trigger: str = "cli",
                 generator: str = "sge-recon", signing_key: str | None = None,
                 platform_db: Database | None = None, replica: dict | None = None,
                 piped: bool = True):
        """``db`` records the export run (DATABASE_URL); ``platform_db`` is where the one
        snapshot of the platform (and of the recon tables exported with it) is read: a standby of
        PLATFORM_READ_URL, default ``db``. ``replica`` (where, lag) goes into the manifest.
        ``piped``: read the rows through a ``psql`` child in the snapshot when one can run
        (the fast path), else in process; the files are the same either way."""
        self.db = db
        self.platform_db = platform_db or db
        self.replica = replica
        self.signing_key = signing_key
        self.out_dir = Path(out_dir)
        self.trigger = trigger
        self.generator = generator
        self.piped = piped
        self.readers: dict[str, str] = {}  # table -> "psql" or "in process": how it was read

    def run(self, period: Period, *, force: bool = False,
            progress: ProgressFn | None = None) -> ExportResult:
        # "Over" by the clock the snapshot's complete_month is read from (the platform server's),
        # as the scheduler's monthly job is timed by a database clock: a host clock behind the
        # server's would otherwise refuse the 1st's export on every attempt.
        if not force and database_now(self.platform_db) < period.end:
            raise ExportError(
                f"period {period} is not over yet (it ends {period.end:%Y-%m-%d %H:%M} UTC): an "
                "export now would hold a partial month and is refused. Wait for the month to end "
                "(the scheduler exports it on the 1st), or pass --force for a preliminary export "
                "(its manifest says complete_month: false, and the scheduler's catch-up replaces "
                "it with the whole month once the month is over)")
        # Import pyarrow while the snapshot and the psql child start, and DuckDB (needed for
        # audit.duckdb at the end) while the tables stream in C++ with the GIL released.
        threading.Thread(target=_import_all, args=(_HEAVY_MODULES,), daemon=True,
                         name="sge-export-import").start()
        out = self._prepare_out_dir()
        target = out / period.label
        if target.exists() and not force:
            raise _exists(target)
        if not store.export_runs_ready(self.db):
            raise ExportError("the table recon.export_runs does not exist in "
                              f"{self.db.where}; run `sge-recon db init` to migrate the recon schema")
        lock = _PeriodLock(out, period.label)  # held until the export is published or gone
        try:
            work = out / f".{period.label}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
            with _ACTIVE_LOCK:
                remove_dead_partials(out, period.label)
                _make_dir(work, out, period.label)
                _ACTIVE.add(work)
            started, clock = datetime.now(timezone.utc), time.perf_counter()
            try:
                manifest = self._write(period, work, progress)
                if self.signing_key:
                    from .signing import sign_manifest

                    sign_manifest(work, self.signing_key)
                fsync_tree(work)
                replaced = publish(work, target, force=force)
            except BaseException as exc:
                shutil.rmtree(work, ignore_errors=True)
                failure = _write_failure(exc, out, period.label)
                if isinstance(exc, Exception) and not isinstance(exc, ExportExists):
                    self._record_failure(period, started, failure or exc)
                if failure is not None:
                    raise failure from None
                raise
            finally:
                with _ACTIVE_LOCK:
                    _ACTIVE.discard(work)
        finally:
            lock.release()
        digest = sha256_of(target / MANIFEST)
        result = ExportResult(period.label, target, manifest, digest,
                              time.perf_counter() - clock, replaced, manifest["notes"])
        store.record_export_run(self.db, {
            "period": period.label, "started_at": started, "status": "succeeded",
            "trigger": self.trigger, "directory": str(target),
            "snapshot": manifest["source"]["snapshot"], "total_rows": result.total_rows,
            "total_bytes": result.total_bytes, "manifest_sha256": digest,
            "replaced": str(replaced) if replaced else None})
        return result

    # -- writing -------------------------------------------------------------------------------
    def _write(self, period: Period, work: Path, progress: ProgressFn | None) -> dict[str, Any]:
        from .totals import ControlTotals

        totals, files, notes = ControlTotals(), [], []
        with store.Snapshot(self.platform_db, piped=self.piped) as snap:
            source = snap.identity()
            for index, spec in enumerate(TABLES):
                spec = snap.resolved(spec)
                columns = [Column(**c) for c in snap.columns(spec.schema, spec.table)]
                if not columns and not spec.fallback:
                    raise ExportError(f"{spec.qualified} does not exist in "
                                      f"{self.platform_db.where}; run "
                                      "`sge-recon db init` or point DATABASE_URL at the platform")
                if not columns:
                    notes.append(f"{spec.qualified} does not exist in the source database: "
                                 f"{spec.filename} is empty, with the reference schema")
                if spec.name == LEDGER:
                    _require_ledger_columns(columns)
                report = _reporter(progress, spec, index)
                rows = self._write_table(snap, spec, columns, period, work,
                                         totals if spec.name == LEDGER else None, report)
                files.append(file_entry(work / spec.filename, table=spec.qualified,
                                        filtered_on=spec.filtered_on, rows=rows,
                                        in_source=bool(columns), description=spec.description,
                                        columns=_describe(columns)))
                if progress:
                    progress(Progress(spec.name, index, len(TABLES), rows, done=True))
            checks = _checks_at_export(snap.latest_check_results())
            _release_arrow_memory()  # the tables' buffers, before DuckDB's step takes its own
            spanning, unbalanced = spanning_transactions(snap, work / f"{LEDGER}.parquet",
                                                         period)
        chain = _journal_chain(work)
        store.create_audit_db(work, {spec.name: spec.filename for spec in TABLES})
        (work / README).write_text(readme_text(period), encoding="utf-8")
        files += [file_entry(work / AUDIT_DB, rows=None, description="DuckDB views over the "
                             "Parquet files (relative paths) and ready views: " +
                             ", ".join(store.audit_view_names())),
                  file_entry(work / README, rows=None, description="how to verify offline")]
        now = datetime.now(timezone.utc)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "period": period.label,
            "range": {"from": period.start.isoformat(), "to": period.end.isoformat(),
                      "note": "UTC; each table filtered on its filtered_on column in [from, to)"},
            "complete_month": period.end <= source["taken_at"],
            "generated_at": now.isoformat(),
            "generator": self.generator,
            "source": {"database": self.platform_db.where, "db_user": source["db_user"],
                       **({"replica": self.replica} if self.replica else {}),
                       "server_version": source["server_version"],
                       "snapshot": source["snapshot"],
                       "snapshot_function": source["snapshot_function"],
                       "snapshot_taken_at": source["taken_at"].isoformat(),
                       "isolation": "repeatable read, read only (one transaction for all tables)"},
            "files": files,
            "control_totals": totals.as_list(),
            "spanning_transactions": spanning,
            "unbalanced_at_export": unbalanced,
            "checks_at_export": checks,
            "journal": chain.anchors(),
            "notes": notes,
        }
        write_manifest(work, manifest)
        return manifest

    def _write_table(self, snap, spec: TableSpec, columns: list[Column], period: Period,
                     work: Path, totals, report) -> int:
        from .stream import (ROWS_PER_BLOCK, RowTooLarge, arrow_schema, copy_to_parquet,
                             csv_file_to_parquet)

        present = bool(columns)
        columns = columns or list(spec.fallback)
        schema = arrow_schema(columns, metadata={"sge_recon.table": spec.qualified,
                                                 "sge_recon.period": period.label,
                                                 "sge_recon.filtered_on": spec.filtered_on})
        path = work / spec.filename
        if not present:
            return copy_to_parquet(iter(()), schema, path)
        on_table = totals.add_table if totals is not None else None
        try:
            with snap.copy_csv_piped(spec, columns, period.start, period.end) as source:
                if source is not None:
                    self.readers[spec.name] = "psql"
                    return csv_file_to_parquet(source, schema, path, on_rows=report,
                                               on_table=on_table)
        except RowTooLarge:  # a row over a streaming block: this table again, in process
            if totals is not None:
                totals.clear()
        self.readers[spec.name] = "in process"
        with snap.copy_csv(spec, columns, period.start, period.end, ROWS_PER_BLOCK) as blocks:
            return copy_to_parquet(blocks, schema, path, on_rows=report, on_table=on_table)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _prepare_out_dir(self) -> Path:
        from .folder import prepare_out_dir

        return prepare_out_dir(self.out_dir)

    def _record_failure(self, period: Period, started: datetime, exc: Exception) -> None:
        try:
            store.record_export_run(self.db, {"period": period.label, "started_at": started,
                                              "status": "failed", "trigger": self.trigger,
                                              "error": str(exc)[:2000]})
        except Exception:  # recording must not hide the real failure
            pass


def publish(work: Path, target: Path, *, force: bool) -> Path | None:
    """Rename the finished folder into place; with ``force`` move an existing one aside first."""
    replaced = None
    if target.exists():
        if not force:
            raise _exists(target)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        replaced = target.with_name(f"{target.name}{REPLACED}{stamp}")
        os.rename(target, replaced)
    try:
        os.rename(work, target)
    except OSError as exc:
        if replaced is not None and not target.exists():
            os.rename(replaced, target)
        if target.exists():
            raise _exists(target) from None
        raise ExportError(f"could not move the export into {target} ({exc.strerror})") from None
    fsync_dir(target.parent)
    return replaced


def remove_dead_partials(out: Path, label: str) -> list[Path]:
    """Remove what killed exports of ``label`` left behind. Called while holding the period's
    lock (``_PeriodLock``): a partial folder of another process is then a dead one's, whatever
    its process id now names (a PID is reused, and is 1 in every container)."""
    removed = []
    for path in out.glob(f".{label}{PARTIAL}*"):
        if path in _ACTIVE:  # cannot happen while the lock is held; never remove a live one
            raise AlreadyRunning(f"another export of {label} is running (writing {path}); wait "
                                 "for it to finish, then export again")
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def period_idle(out: Path, label: str) -> bool:
    """No export of ``label`` is running in ``out`` (its lock is free at this moment)."""
    try:
        _PeriodLock(out, label).release()
    except AlreadyRunning:
        return False
    return True


class _PeriodLock:
    """``DIR/.<period>.lock``, locked (flock, exclusive) for the export's lifetime. The kernel
    releases it when the process dies, however it dies, so a killed export never blocks the next
    one; a live one (another process, or another thread here) is told apart without PIDs."""

    def __init__(self, out: Path, label: str):
        import fcntl

        self.path = out / f".{label}.lock"
        try:
            self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ExportError(f"cannot create the lock file {self.path} ({exc.strerror}); "
                              "choose another --out") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise AlreadyRunning(f"another export of {label} is running (it holds {self.path}); "
                                 "wait for it to finish, then export again") from None
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # its holder finished and removed it between our open and our flock
            self.release(unlink=False)
            raise AlreadyRunning(f"another export of {label} has just run or is starting; "
                                 "export again")

    def release(self, unlink: bool = True) -> None:
        """Remove the lock file, then close it (which releases the flock): one that a killed
        export leaves behind is simply locked again by the next one."""
        if self.fd is not None:
            if unlink:
                try:
                    self.path.unlink(missing_ok=True)
                except OSError:  # the folder turned read-only under the export: the file stays,
                    pass         # harmless (the next export locks it again); the export's own
                                 # error, if any, is the one to report
            os.close(self.fd)
            self.fd = None


def _make_dir(work: Path, out: Path, label: str) -> None:
    try:
        work.mkdir()
    except OSError as exc:
        raise _write_failure(exc, out, label) or exc from None


def _write_failure(exc: BaseException, out: Path, label: str) -> ExportError | None:
    """A failure of the destination (disk full, quota, I/O error) as a clear ExportError."""
    import errno

    if isinstance(exc, OSError) and (exc.errno is not None or "[errno " in str(exc).lower()):
        # an OS error (pyarrow's carry the errno in their text; its other OSErrors are not I/O)
        reason = exc.strerror or str(exc)
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc)
    elif type(exc).__name__ == "IOException" and type(exc).__module__.startswith(("duckdb",
                                                                                   "_duckdb")):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        full = "No space left" in str(exc) or "Disk quota" in str(exc)
    else:
        return None
    advice = ("free space there (or pass --out DIR on a disk with room) and export again"
              if full else "check the destination (disk, permissions) or pass another --out")
    return ExportError(f"writing the export of {label} into {out} failed: {reason}; {advice}. "
                       "Nothing was published (the unfinished folder was removed)")


def fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_HEAVY_MODULES = ("pyarrow", "pyarrow.csv", "pyarrow.parquet", "pyarrow.compute", "duckdb")


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread's own import will raise it where it matters
            return


def _reporter(progress: ProgressFn | None, spec: TableSpec, index: int) -> Callable[[int], None]:
    if progress is None:
        return lambda rows: None
    return lambda rows: progress(Progress(spec.name, index, len(TABLES), rows))


def _describe(columns: list[Column]) -> list[dict[str, str]]:
    from .stream import arrow_type

    return [{"name": c.name, "pg_type": c.pg_type, "parquet_type": str(arrow_type(c))}
            for c in columns]


def _require_ledger_columns(columns: list[Column]) -> None:
    names = {c.name for c in columns}
    missing = [n for n in ("program_id", "transaction_id", "type", "amount", "currency")
               if n not in names]
    if missing:
        raise ExportError(f"the platform's ledger_entries lacks {', '.join(missing)} (DESIGN §4); the "
                          "control totals cannot be computed")
    import pyarrow as pa

    from .stream import arrow_type

    amount = next(c for c in columns if c.name == "amount")
    if amount.pg_type == "numeric" and not pa.types.is_decimal(arrow_type(amount)):
        kind = f"numeric({amount.precision},{amount.scale})"
        raise ExportError(f"the platform's ledger_entries.amount is {kind}, which has no exact "
                          "Parquet decimal (at most 38 digits): the control totals cannot be "
                          "computed exactly. Money is numeric(38,6) by the contract (DESIGN §4); "
                          "alter the column to a numeric(p,s) with p <= 38")


def _checks_at_export(found: dict[str, Any]) -> dict[str, Any]:
    if not found["results"]:
        return {"status": "none", "note": "no check results were stored at export time",
                "latest_run": None, "results": []}
    run = found["latest_run"]
    return {
        "status": "stored",
        "note": "the newest stored result of each check as of the export's snapshot",
        "latest_run": {k: _plain(v) for k, v in run.items()} if run else None,
        "results": [{k: _plain(v) for k, v in r.items()} for r in found["results"]],
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)  # Decimal -> exact string


def _exists(target: Path) -> ExportExists:
    return ExportExists(f"{target} already exists: period {target.name} was exported before. "
                        "Pass --force to export it again (the earlier version is kept beside it "
                        f"as {target.name}{REPLACED}<time>)")


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator keeps for reuse back to the system (~60 MB after a
    month of 2 M entries), so that the export's peak is not that plus DuckDB's."""
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


def _journal_chain(work: Path):
    """The month's journal as written, walked once: its anchors go in the manifest, and an
    export whose journal is already broken in the database says so in its notes."""
    from .journal import FILE, walk

    con = store.open_audit_db(work)
    try:
        return walk(store.journal_entries(con, store.in_folder(work, FILE)))
    finally:
        con.close()
