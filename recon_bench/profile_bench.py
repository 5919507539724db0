"""``sge-recon profile-bench``: what reading the SGE platform through its profile costs.

One SGE-shaped database of about N ledger entries (the stand-in, refplatform/sql/sge/), then the SAME rows
copied into plain contract-shaped tables (``CREATE TABLE … AS SELECT * FROM`` each view, with the
contract platform's indexes on the columns the checks use). Every check that has data on SGE runs
against both relation sets in the same session, best of ``repeat``; the figure is the ratio
profile / contract per check and for the whole suite (issue 13's target: ≤ 1.2). The per-minute
run on SGE is timed too, incremental on the time-ordered checkpoint (db/ledger_checkpoint.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from recon_bench.store import profile_bench as store
from sge_recon.checks import sqltext
from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.db import Database, ledger_checkpoint
from sge_recon.db.checks import CheckQueryError, CheckSession
from sge_recon.db.relations import PlatformRelations

ENTRIES_PER_SGE_INTENT = 4.6  # what the SGE stand-in writes on average (measured)
MINUTE_OF_ENTRIES = 1_000     # new entries before the per-minute run, as `sge-recon bench`


@dataclass
class CheckTiming:
    name: str
    profile_s: float
    contract_s: float
    rows: int

    @property
    def ratio(self) -> float:
        return self.profile_s / self.contract_s if self.contract_s else float("nan")


@dataclass
class ProfileBench:
    entries: int
    load_seconds: float
    copy_seconds: float
    timings: list[CheckTiming] = field(default_factory=list)
    fast_run_seconds: float = 0.0
    fast_errors: list[str] = field(default_factory=list)
    fast_note: str = ""
    unavailable: list[str] = field(default_factory=list)
    session_settings: dict[str, str] = field(default_factory=dict)
    checkpointed_entries: int = 0  # below the watermark when the checks were timed

    @property
    def suite_profile_s(self) -> float:
        return sum(t.profile_s for t in self.timings)

    @property
    def suite_contract_s(self) -> float:
        return sum(t.contract_s for t in self.timings)

    @property
    def suite_ratio(self) -> float:
        return self.suite_profile_s / self.suite_contract_s


def run_profile_bench(recon, entries: int, seed: int, repeat: int,
                      progress: Callable[[str], None], indexes: bool = False) -> ProfileBench:
    from refplatform.sge_platform import create_sge_schema, load_sge_platform, sge_platform_present

    db = recon.db
    started = time.perf_counter()
    if sge_platform_present(db):
        progress(f"reusing the SGE platform in {db.where}")
        load_s = 0.0
    else:
        intents = max(200, round(entries / ENTRIES_PER_SGE_INTENT))
        progress(f"loading an SGE-shaped platform of {intents:,} intents …")
        create_sge_schema(db)
        load_sge_platform(db, intents=intents, seed=seed)
        load_s = time.perf_counter() - started
    recon.init_db()
    # the platform's own indexes, or with the two docs/profiles.md recommends to its DBA
    store.set_recommended_indexes(db, indexes)
    started = time.perf_counter()
    progress("copying the profile's views into plain contract tables (schema bench_contract) …")
    store.materialise_contract_copy(db)
    copy_s = time.perf_counter() - started
    result = ProfileBench(store.ledger_rows(db), load_s, copy_s)
    unavailable = recon.checks.unavailable()
    result.unavailable = sorted(unavailable)
    definitions = [d for d in load_catalogue(recon.settings.checks_dir, check_params(
        recon.settings)) if d.name not in unavailable and not d.problem]
    # the same rows, so the same ledger order (their ids are the copied text ids)
    contract = PlatformRelations(profile="bench-contract", schema=store.COPY_SCHEMA,
                                 ledger_order=db.relations.ledger_order)
    params = check_params(recon.settings)
    # ledger_tamper reads the history below the watermark: settled first, or (after a db init
    # that rebuilt the checkpoint) it would compare nothing and time nothing
    progress("settling the time-ordered checkpoint …")
    result.checkpointed_entries = _settled(recon.db)
    # both sides through the sessions the product's check runs open (CHECK_WORK_MEM included)
    sessions = recon.checks.check_db
    result.session_settings = dict(sessions.session_settings)
    for d in definitions:
        progress(f"timing {d.name} …")
        profile_s, rows = _best(sessions, db.relations, d, params, repeat)
        contract_s, _ = _best(sessions, contract, d, params, repeat)
        result.timings.append(CheckTiming(d.name, profile_s, contract_s, rows))
    progress("settling the checkpoint again, then timing the per-minute run …")
    with_lag = recon.db.relations.ledger_order_lag_seconds
    _settled(recon.db)
    store.add_minute_of_entries(db, MINUTE_OF_ENTRIES, f"m{time.time_ns()}-")
    started = time.perf_counter()
    run = recon.checks.run(fast_only=True, store=False, trigger="bench")
    result.fast_run_seconds = time.perf_counter() - started
    result.fast_errors = [c.name for c in run.checks if c.status == "error"]
    result.fast_note = (f"checkpoint ordered by {recon.db.relations.ledger_order}; "
                        f"{'with the recommended' if indexes else 'no extra'} indexes; "
                        f"{MINUTE_OF_ENTRIES:,} new entries and those of the last {with_lag} s "
                        "(the lag) read as new")
    return result


def _settled(db: Database) -> int:
    """Advance the checkpoint to a confirmed candidate (now - lag): the entries below it."""
    ledger_checkpoint.advance(db)   # the candidate ...
    for _ in range(50):             # ... confirmed once the transactions running then have ended
        if ledger_checkpoint.advance(db).note is None:
            break
        time.sleep(0.2)
    checkpoint = ledger_checkpoint.read_checkpoint(db)
    return int(checkpoint["entries"]) if checkpoint else 0


def _best(sessions: Database, relations: PlatformRelations, definition, params, repeat: int
          ) -> tuple[float, int]:
    """Best-of-``repeat`` seconds of one check over ``relations`` (count + sample, as a run), in a
    session set up as the check runs' (``sessions``: CheckService.check_db)."""
    target = Database(sessions.url, relations=relations, application_name="sge-recon-bench",
                      session_settings=sessions.session_settings)
    sql = sqltext.for_psycopg(ledger_checkpoint.keyed_sql(relations.resolve(definition.sql),
                                                          relations))
    best, rows = float("inf"), 0
    with CheckSession(target) as session:
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                m = session.measure(sql, params, aggregate=definition.value.aggregate
                                    if definition.value else None,
                                    column=definition.value.column if definition.value else None,
                                    sample_limit=100, timeout_seconds=3600)
            except CheckQueryError as exc:
                raise RuntimeError(f"{definition.name} failed on {relations.schema}: {exc}") from exc
            best = min(best, time.perf_counter() - started)
            rows = m.failing_rows
    return best, rows
