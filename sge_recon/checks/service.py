"""CheckService: the one API the CLI, the console and the jobs use to run and read checks."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from ..config import Settings
from ..db import Database
from ..db import checks as store
from ..db.check_login import checks_database
from ..db.job_runs import database_now
from ..db.profile_drift import unmapped_status_labels
from ..db.relations import referenced_tables
from ..db.schema import schema_behind
from ..errors import SchemaMismatch, UsageError
from ..queues import QUEUE_CHECKS, missing_source_reason, queue_source
from ..replica import REFUSED_STALE, freshness
from .loader import load_catalogue, load_fused
from .model import (
    UNAVAILABLE,
    CheckDefinition,
    CheckResult,
    FusedQuery,
    RunResult,
    column_types,
    json_row,
    overall_status,
    restore_row,
)
from .params import check_params

ENGINES = ("sql", "gx", "duckdb")
MAX_REBASE_REASON = 2000  # `check --rebase-checkpoint REASON`: recorded with the checkpoint


class UnknownCheckRequest(UsageError):
    """An unknown check name or engine. Exit 3 like every run that could not complete, so that
    `check`'s 1 and 2 always mean warnings and failures found in the data."""

    exit_code = 3


class CheckService:
    def __init__(self, settings: Settings, db: Database | Callable[[], Database],
                 platform_db: Database | Callable[[], Database] | None = None):
        """``db`` (sge-recon's state, the checkpoint watermark: the primary) and ``platform_db``
        (where the checks read the platform: a standby of PLATFORM_READ_URL; default ``db``) may
        be callables, so that reading the catalogue never starts a database.

        On a standby the checks read the platform AND the recon tables they join (the ledger
        checkpoint, replicated like everything else) there, at the standby's replay point, so
        they see one consistent moment; the watermark is advanced on the primary, and the
        standby shows the new checkpoint only together with the entries it covers (the primary
        commits it after them, the standby replays commits in order)."""
        self.settings = settings
        self._db = db
        self._platform_db = platform_db

    def with_settings(self, **changes: Any) -> "CheckService":
        """This service on the same databases with some settings changed (a benchmark timing a
        run as another configuration would make it)."""
        return CheckService(replace(self.settings, **changes), self._db, self._platform_db)

    def on_primary(self) -> "CheckService":
        """This service reading the platform on DATABASE_URL itself: the console while the
        standby of PLATFORM_READ_URL is refused, as the alert facts do."""
        return CheckService(self.settings, self._db, self._db)

    @property
    def db(self) -> Database:
        if callable(self._db) and not isinstance(self._db, Database):
            self._db = self._db()
        return self._db

    @property
    def platform_db(self) -> Database:
        if self._platform_db is None:
            return self.db
        if callable(self._platform_db) and not isinstance(self._platform_db, Database):
            self._platform_db = self._platform_db()
        return self._platform_db

    @property
    def params(self) -> dict[str, Decimal | int]:
        return check_params(self.settings)

    def catalogue(self) -> list[CheckDefinition]:
        """The checks of ``settings.checks_dir``, freshly loaded (the files are the truth)."""
        return load_catalogue(self.settings.checks_dir, self.params)

    def fused(self, definitions: list[CheckDefinition] | None = None) -> list[FusedQuery]:
        """The catalogue's fused queries (checks/fused/), with their member checks."""
        if definitions is None:
            definitions = self.catalogue()
        return load_fused(self.settings.checks_dir, definitions, self.params)

    def select(self, only: list[str] | None = None, fast_only: bool = False) -> list[CheckDefinition]:
        definitions = catalogue = self.catalogue()
        if only:
            known = {d.name for d in definitions}
            unknown = [n for n in only if n not in known]
            if unknown:
                raise UnknownCheckRequest(f"unknown check(s) {', '.join(unknown)}; known checks: "
                                 f"{', '.join(sorted(known))}")
            definitions = [d for d in definitions if d.name in set(only)]
            slow = [d.name for d in definitions if fast_only and not d.fast]
            if slow:  # never a silent "PASS" for a check that was named and not run
                fast = ", ".join(d.name for d in catalogue if d.fast)
                raise UnknownCheckRequest(
                    f"--fast runs only the per-minute checks, and {', '.join(slow)} "
                    f"{'is' if len(slow) == 1 else 'are'} not one of them ({fast}); drop "
                    "--fast to run the named checks, or name only per-minute ones")
        if fast_only:
            definitions = [d for d in definitions if d.fast]
        return definitions

    def run(self, only: list[str] | None = None, engine: str = "sql", trigger: str = "cli",
            store: bool = True, fast_only: bool = False,
            budget_seconds: float | None = None,
            incremental_forms: bool = False, sample_rows: int | None = None,
            params: dict[str, Decimal | int] | None = None) -> RunResult:
        """Run the catalogue (or part of it) and, unless ``store=False``, record it in recon.

        The fast (per-minute) SQL run reads the ledger checks incrementally from the checkpoint
        (sge_recon/checks/incremental.py); the full run scans the whole ledger.
        ``budget_seconds`` bounds the whole run (SQL engine): a check that would overrun it is
        cut and reported ``error``, and the checks after it are not run (``error`` too).
        ``incremental_forms`` reads the ledger checks in their per-minute forms without moving
        the watermark (see :meth:`live`). ``sample_rows`` (default SAMPLE_ROWS) bounds each
        check's sample of failing rows (a page listing them asks for more; the count is exact);
        ``params`` replaces some check parameters for this run only (see :meth:`live`).
        A check that cannot run reports ``error`` and the others still run. Raises
        DatabaseUnavailable when the database cannot be reached at all (the run cannot complete).
        """
        if engine not in ENGINES:
            raise UnknownCheckRequest(f"unknown engine {engine!r}; use sql, gx or duckdb")
        definitions = self.select(only, fast_only)
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        # dated by the database's clock (an unreachable one fails the run now, clearly), as its
        # results' created_at and the scheduler's now: a host's hours off hid every standing
        # result (latest_results) and misdated an outage counted from stored runs
        started_at, timer = database_now(self.db), time.monotonic()
        behind = schema_behind(self.db)
        if behind:  # its checks would read columns and views db init has not made yet
            raise SchemaMismatch(f"{behind}{self._embedded_hint(behind)}; run `sge-recon db "
                                 "init` (it applies the migrations and recreates the profile's "
                                 "views), then check again")
        from . import incremental

        # DuckDB serves the full sweep only; the per-minute run is the incremental SQL run
        if (fast_only or incremental_forms) and engine == "duckdb":
            engine = "sql"
        per_minute = (fast_only or incremental_forms) and engine == "sql"
        if per_minute:
            # the per-minute run moves the watermark first; a live read (incremental_forms)
            # writes nothing: the incremental forms are exact at any watermark
            if not fast_only or incremental.advance_checkpoint(self.db) is not None:
                definitions = incremental.incremental_definitions(definitions)
        definitions = incremental.keyed(definitions, self.db.relations)
        # the full SQL run takes the per-transaction ledger checks from one sort (checks/fused/);
        # the per-minute run has its incremental forms, GX runs every check's own expectation
        fused = [] if per_minute or engine not in ("sql", "duckdb") or \
            not self.settings.FUSED_LEDGER_PASS else \
            incremental.keyed_fused(self.fused(), self.db.relations)
        runnable, unavailable = self._split_unavailable(definitions, engine)
        runnable, queued = self._split_queue_measured(runnable)
        fresh = freshness(self.platform_db, self.db, self.settings)
        if fresh.refusal is not None:
            results = self._refused(runnable, fresh.refusal, engine)
        else:
            # side by side only in the full run: the per-minute checks are cheap, in order
            sessions = 1 if per_minute else self.settings.CHECK_SESSIONS
            results = self._engine_run(engine, runnable, deadline, fused, sample_rows, params,
                                       sessions) if runnable else []
            if fresh.on_standby:  # replay may have stopped while the checks ran: ask again
                after = freshness(self.platform_db, self.db, self.settings)
                if after.refusal is not None:
                    results = self._refused(runnable, after.refusal, engine)
                if (after.lag_seconds or 0) > (fresh.lag_seconds or 0) or after.refusal:
                    fresh = after
        if runnable and self.db.relations.status_labels:
            results = self._unmapped_is_no_pass(results, runnable)
        if queued:  # measured on the platform's queues (Redis), not on the standby
            from .queue_engine import run_queue_checks

            results += run_queue_checks(queued, self.queue_source())
        order = {d.name: i for i, d in enumerate(definitions)}
        results = sorted(results + unavailable, key=lambda r: order[r.name])
        finished_at = started_at + timedelta(seconds=time.monotonic() - timer)
        run = RunResult(run_id=str(uuid.uuid4()), started_at=started_at,
                        finished_at=finished_at,
                        status=overall_status([r.status for r in results]), engine=engine,
                        checks=results, trigger=trigger, replica=fresh.record())
        if store:
            self._store(run, only)
        return run

    def live(self, names: list[str] | tuple[str, ...],
             budget_seconds: float | None = None, sample_rows: int | None = None,
             params: dict[str, Decimal | int] | None = None) -> RunResult:
        """The named checks computed now by the same code, not stored: the live view behind the
        alert rules and /metrics when no fresh stored result is at hand. The ledger checks read
        their per-minute forms (checkpoint + new entries) and write nothing. ``budget_seconds``
        bounds them all (a table lock makes a check ``error``, never a hang); ``sample_rows``
        how many failing rows each result carries (a page's list; default SAMPLE_ROWS);
        ``params`` replaces check parameters for this read (a page's display of a measure at a
        zero threshold: the same SQL text; its status is then no verdict)."""
        known = {d.name for d in self.catalogue()}
        only = [n for n in names if n in known]
        if not only:  # none in this catalogue (an empty --only would mean "all")
            now = datetime.now(timezone.utc)
            return RunResult(str(uuid.uuid4()), now, now, "pass", "sql", [], trigger="live")
        return self.run(only=only, trigger="live", store=False, incremental_forms=True,
                        budget_seconds=budget_seconds, sample_rows=sample_rows, params=params)

    def unavailable(self) -> dict[str, str]:
        """Check name -> why the connected platform cannot support it (DESIGN §5
        ``unavailable``): its profile declares a relation the check reads absent. The catalogue
        is the one place that says which relations a signal reads; the live facts behind alerts
        and /metrics skip the same signals."""
        relations = self.db.relations
        queued = self.queue_measured()
        missing_source = missing_source_reason(self.settings, relations)
        out = {}
        for d in self.catalogue():
            if d.name in queued:
                continue
            if d.name in QUEUE_CHECKS and missing_source:
                out[d.name] = f"{missing_source} (profile {relations.profile})"
                continue
            reason = relations.unavailable_reason(referenced_tables(d.sql)) or \
                relations.limitations.get(d.name)
            if reason is not None:
                out[d.name] = f"{reason} (profile {relations.profile})"
        return out

    def queue_source(self):
        """The platform's queue source (BullMQ on Redis) when its profile declares one and
        REDIS_URL is set, else None (sge_recon.queues)."""
        return queue_source(self.settings, self.db.relations)

    def queue_measured(self) -> frozenset[str]:
        """The checks measured from the queue source instead of SQL (empty without one)."""
        if self.db.relations.queues is None or not self.settings.REDIS_URL:
            return frozenset()
        return frozenset(QUEUE_CHECKS)

    def _split_queue_measured(self, definitions: list[CheckDefinition]
                              ) -> tuple[list[CheckDefinition], list[CheckDefinition]]:
        queued = self.queue_measured()
        return ([d for d in definitions if d.name not in queued],
                [d for d in definitions if d.name in queued])

    def _split_unavailable(self, definitions: list[CheckDefinition], engine: str
                           ) -> tuple[list[CheckDefinition], list[CheckResult]]:
        """Checks whose data the platform's profile declares absent are ``unavailable`` with the
        profile's reason; they are not run (their relations are empty by declaration), and are
        recorded under the run's engine (a GX run's results all say gx)."""
        if not self.db.relations.absent and not self.db.relations.limitations \
                and self.db.relations.queues is None:
            return definitions, []
        reasons = self.unavailable()
        runnable = [d for d in definitions if d.name not in reasons]
        return runnable, [CheckResult(name=d.name, status=UNAVAILABLE, priority=d.priority,
                                      failing_rows=None, value=None, reason=reasons[d.name],
                                      engine=engine)
                          for d in definitions if d.name in reasons]

    def _unmapped_is_no_pass(self, results: list[CheckResult],
                             definitions: list[CheckDefinition]) -> list[CheckResult]:
        """A check that reads a table whose platform status has a label the profile does not map
        (added to the platform's enum after ``db init``) cannot pass: the rows in that status read
        as ``unmapped:<label>``, which its status predicates never name (stuck_intents would miss
        an intent stuck in it every minute). It is ``error`` with the labels and the fix; a fail
        or warn stays as it is (its rows are evidence). One catalogue query per run."""
        drift = unmapped_status_labels(self.platform_db, self.db.relations.status_labels)
        if not drift:
            return results
        reads = {d.name: referenced_tables(d.sql) for d in definitions}
        out = []
        for result in results:
            tables = [t for t in reads.get(result.name, ()) if t in drift]
            if result.status == "pass" and tables:
                labels = "; ".join(f"{t}.{', '.join(drift[t])}" for t in tables)
                result = replace(result, status="error", error=(
                    f"the platform has status label(s) that profile {self.db.relations.profile} "
                    f"does not map ({labels}): their rows read as unmapped:<label>, so this check "
                    "cannot pass; map each label in the profile and run `sge-recon db init`"))
            out.append(result)
        return out

    @staticmethod
    def _refused(definitions: list[CheckDefinition], sentence: str,
                 engine: str) -> list[CheckResult]:
        """Every check ``error`` with the standby's sentence: stale data is never a pass."""
        from .sql_engine import errored

        started = time.perf_counter()
        return [errored(d, sentence[:1].upper() + sentence[1:] + ".", started, engine,
                        {REFUSED_STALE: True}) for d in definitions]

    @property
    def check_db(self) -> Database:
        """The platform server as the check runs read it: each session with CHECK_WORK_MEM (the
        benchmark's raw queries use it too, so that suite / raw compares like with like), under
        the checks' own login when the configured one is a superuser (db.check_login)."""
        work_mem = self.settings.CHECK_WORK_MEM
        return checks_database(self.platform_db).with_session_settings(
            work_mem="" if work_mem == "server" else work_mem)

    def _engine_run(self, engine: str, definitions: list[CheckDefinition],
                    deadline: float | None = None,
                    fused: list[FusedQuery] | None = None,
                    sample_rows: int | None = None,
                    params: dict[str, Decimal | int] | None = None,
                    sessions: int = 1) -> list[CheckResult]:
        # Resolved here for both engines: GX runs the text through its own (SQLAlchemy)
        # connection, which does not resolve `platform.<table>` like the data layer does.
        # Both engines read the platform server (a standby of PLATFORM_READ_URL, or DATABASE_URL).
        db = self.check_db
        relations = db.relations
        sample = self.settings.SAMPLE_ROWS if sample_rows is None else sample_rows
        bound = {**self.params, **(params or {})}
        definitions = [replace(d, sql=relations.resolve(d.sql),
                               prelude=d.prelude and relations.resolve(d.prelude))
                       for d in definitions]
        if engine == "gx":
            from .gx_engine import run_gx_checks  # GX costs seconds to import: only when asked

            return run_gx_checks(definitions, db, bound, sample, sessions)
        from .sql_engine import run_sql_checks

        fused = [replace(f, sql=relations.resolve(f.sql)) for f in fused or []]
        if engine == "duckdb":
            from .columnar_engine import run_columnar_checks

            return run_columnar_checks(definitions, db, bound, sample,
                                       self.settings.checks_dir, self._exports_finder(), fused,
                                       self.settings.columnar_memory_limit)
        return run_sql_checks(definitions, db, bound, sample, deadline,
                              fused, sessions)

    def _exports_finder(self):
        """The verified audit exports under EXPORTS_DIR, for the columnar engine."""
        def find():
            from ..exports.sweep import usable_months

            return usable_months(self.settings.EXPORTS_DIR, self.settings.SGE_RECON_HOME)
        return find

    def _store(self, run: RunResult, only: list[str] | None) -> None:
        store.store_run(self.db, {
            "run_id": run.run_id, "started_at": run.started_at, "finished_at": run.finished_at,
            "status": run.status, "engine": run.engine, "trigger": run.trigger,
            "only_checks": list(only) if only else None, "profile": self.db.relations.profile,
            "error": next((c.error for c in run.checks if c.error), None), **(run.replica or {})},
            [{"run_id": run.run_id, "name": c.name, "status": c.status, "priority": c.priority,
              "failing_rows": c.failing_rows, "value": c.value,
              "rows": [json_row(r) for r in c.rows], "duration_ms": round(c.duration_ms, 3),
              "error": c.error, "engine": c.engine, "reason": c.reason,
              "details": {**(c.details or {}), "column_types": column_types(c.rows)}}
             for c in run.checks])

    def _embedded_hint(self, behind: str) -> str:
        """When recon is not set up at all in the embedded database: where that database is,
        and that SGE_RECON_HOME is relative to the working directory (run from another folder,
        a command starts a new, empty one there)."""
        if self.settings.DATABASE_URL or "is not set up" not in behind:
            return ""
        return (f" (DATABASE_URL is unset, so this is the embedded PostgreSQL of SGE_RECON_HOME "
                f"{self.settings.home}, which is relative to the working directory: if "
                "sge-recon's database is elsewhere, run from the folder that holds its "
                ".sge-recon/ or set SGE_RECON_HOME or DATABASE_URL instead)")

    def rebase_checkpoint(self, reason: str):
        """Rebuild the ledger checkpoint from the rows as they are (after tampering has been
        investigated); ``ledger_tamper`` passes again from the next full run."""
        from . import incremental

        if not reason.strip():
            raise UsageError("a rebase needs a reason (who investigated what); it is recorded")
        try:
            reason.encode("utf-8")
        except UnicodeEncodeError:  # bytes of another encoding in the argument (surrogates)
            raise UsageError("the rebase reason is not UTF-8 text (a terminal or script in "
                             "another encoding); give it as UTF-8; nothing was rebased") from None
        if len(reason.strip()) > MAX_REBASE_REASON or not reason.strip().isprintable():
            raise UsageError(f"the rebase reason must be one line of at most "
                             f"{MAX_REBASE_REASON:,} printable characters (who investigated what; "
                             f"it is recorded); got {len(reason.strip()):,}; nothing was rebased")
        behind = schema_behind(self.db)
        if behind:  # no checkpoint table to rebuild yet (db init has not run, or is behind)
            raise SchemaMismatch(f"{behind}; run `sge-recon db init` (it applies the "
                                 "migrations), then rebase again")
        return incremental.rebase(self.db, reason.strip())

    # -- history ----------------------------------------------------------------------------
    def latest(self) -> RunResult | None:
        """The last stored run (any engine), with its results."""
        row = store.latest_run(self.db)
        if row is None:
            return None
        results = [_result(r) for r in store.results_of_run(self.db, row["run_id"])]
        order = {d.name: i for i, d in enumerate(self._catalogue_or_empty())}
        results.sort(key=lambda r: (order.get(r.name, len(order)), r.name))
        return RunResult(run_id=str(row["run_id"]), started_at=row["started_at"],
                         finished_at=row["finished_at"], status=row["status"],
                         engine=row["engine"], checks=results, trigger=row["trigger"],
                         replica={k: row.get(k) for k in (
                             "platform_read", "replica_lag_seconds", "replica_paused",
                             "replica_behind_bytes")})

    def latest_results(self) -> dict[str, CheckResult]:
        """The newest stored result of every check name."""
        return {r["name"]: _result(r) for r in store.latest_results(self.db)}

    def history(self, name: str, limit: int = 100) -> list[CheckResult]:
        """Stored results of one check, newest first (for trends and "failing since when")."""
        return [_result(r) for r in store.result_history(self.db, name, limit)]

    def _catalogue_or_empty(self) -> list[CheckDefinition]:
        try:
            return self.catalogue()
        except Exception:  # noqa: BLE001 - ordering is cosmetic; a broken catalogue shows elsewhere
            return []


def _result(row: dict) -> CheckResult:
    details = row.get("details") or {}
    kinds = details.get("column_types", {})
    value = row["value"]
    return CheckResult(name=row["name"], status=row["status"], priority=row["priority"],
                       failing_rows=row["failing_rows"],
                       value=None if value is None else Decimal(value),
                       rows=[restore_row(r, kinds) for r in row["rows"] or []],
                       duration_ms=float(row["duration_ms"] or 0), error=row["error"],
                       engine=row["engine"], details=details, reason=row.get("reason"))


def record_platform_run(db: Database, answer: dict) -> str | None:
    """Record in recon.check_runs the run a platform's force-reconcile answered with (DESIGN §6:
    ``runId``, ``programId``, ``startedAt``, ``finishedAt``, ``status``, ``checks``) as a partial
    run of one program (trigger ``api``): shown in the history, never a standing status (§5).
    The platform keeps its own record; sge-recon writes its schema itself. Returns the run id, or
    None when the answer carries no run (another platform's dialect)."""
    checks, run_id = answer.get("checks"), answer.get("runId")
    if not run_id or not isinstance(checks, list):
        return None
    program_id = answer.get("programId")
    scope = {"program_id": program_id} if program_id else {}

    def when(value):
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    store.store_run(db, {
        "run_id": run_id, "started_at": when(answer.get("startedAt")),
        "finished_at": when(answer.get("finishedAt")), "status": answer.get("status"),
        "engine": "sql", "trigger": "api", "only_checks": [c.get("name") for c in checks],
        "error": None},
        [{"run_id": run_id, "name": c.get("name"), "status": c.get("status"),
          "priority": c.get("priority"), "failing_rows": c.get("failing_rows") or 0,
          "value": c.get("value"), "rows": c.get("rows") or [],
          "duration_ms": c.get("duration_ms"), "error": c.get("error"), "engine": "sql",
          "details": scope} for c in checks])
    return str(run_id)
