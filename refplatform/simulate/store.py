"""Data access of ``sge-recon simulate``: runs the set-based SQL of ``refplatform/sql/simulate/``
in one transaction. Every statement is an ``INSERT … SELECT`` over ``generate_series`` (or an update of a
handful of rows for a fault); nothing is written row by row from Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from refplatform.setup import SQL_DIR
from sge_recon.db import Database
from sge_recon.errors import UsageError

# The load, in order. 50_live places the live edge after the history; 60_sequences moves the id
# sequences past the explicit ids before any fault appends rows.
LOAD_STEPS = ("10_reference", "20_intents", "30_commissions", "31_payouts", "40_activity",
              "50_live", "60_sequences")
LOAD_LOCK_KEY = 0x5E51A7  # one simulate at a time per database


class PlatformNotEmpty(UsageError):
    """The platform tables already hold data and --reset was not given."""


@dataclass
class LoadResult:
    as_of: datetime
    live_at: datetime
    step_seconds: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0


def simulate_dir() -> Path:
    return SQL_DIR / "simulate"


def fault_file(name: str) -> Path:
    return simulate_dir() / "faults" / f"{name}.sql"


def _sql(name: str) -> str:
    return (simulate_dir() / f"{name}.sql").read_text(encoding="utf-8")


def _was_simulated(conn) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM public.reference_simulations) AS simulated").fetchone()
    return bool(row["simulated"])


def tables_with_data(conn) -> list[str]:
    """The platform tables that already hold rows (on an open connection)."""
    return [r["table_name"] for r in conn.execute(_sql("data_present")).fetchall()]


def load(db: Database, params: dict[str, Any], faults: Sequence[str], *, reset: bool,
         progress: Callable[[str], None] | None = None) -> LoadResult:
    """Load a simulated platform (and plant ``faults``) in one transaction: all or nothing."""
    timings: dict[str, float] = {}

    def step(label: str, run: Callable[[], Any]) -> Any:
        if progress:
            progress(label)
        started = time.perf_counter()
        out = run()
        timings[label] = time.perf_counter() - started
        return out

    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
        present = tables_with_data(conn)
        if reset:
            if present and not _was_simulated(conn):
                raise PlatformNotEmpty(
                    f"the platform tables in {db.where} hold data ({', '.join(present)}) that "
                    "`sge-recon simulate` did not load; --reset only replaces simulated data and "
                    "never erases a real platform. Point DATABASE_URL at a scratch database. "
                    "Nothing was changed")
            step("reset", lambda: conn.execute(_sql("reset")))
        else:
            if present:
                raise PlatformNotEmpty(
                    f"the platform tables in {db.where} already hold data ({', '.join(present)}); "
                    "run `sge-recon simulate --reset` to replace it, or point DATABASE_URL at an "
                    "empty database. Nothing was changed")
        conn.execute(_sql("00_setup"))
        conn.execute(_sql("01_params"), params)
        step("prepare", lambda: conn.execute(_sql("05_prepare")))
        for name in LOAD_STEPS:
            step(name.split("_", 1)[1], lambda name=name: conn.execute(_sql(name)))
        for fault in faults:
            step(f"fault {fault}",
                 lambda fault=fault: conn.execute(fault_file(fault).read_text(encoding="utf-8")))
        step("indexes and statistics", lambda: conn.execute(_sql("90_finish")))
        when = conn.execute("SELECT as_of, live_at FROM sim_params").fetchone()
        conn.execute("INSERT INTO public.reference_simulations (seed, intents, faults, as_of) "
                     "VALUES (%s, %s, %s, %s)",
                     (params["seed"], params["intents"], list(faults), when["as_of"]))
    result = LoadResult(as_of=when["as_of"], live_at=when["live_at"], step_seconds=timings)
    rows = db.fetch_all(_sql("row_counts"))
    result.row_counts = {r["table_name"]: r["rows"] for r in rows}
    size = db.fetch_one("SELECT pg_database_size(current_database()) AS bytes")
    result.database_bytes = size["bytes"] if size else 0
    return result
