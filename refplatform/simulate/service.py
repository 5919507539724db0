"""The simulator service: validates the options, sets up the reference platform's tables and
``db init``, loads, reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from refplatform.setup import setup_database
from sge_recon.errors import UsageError

from . import store as sim_db
from .faults import FAULT_NAMES

if TYPE_CHECKING:
    from sge_recon.context import Recon

MIN_INTENTS = 1_000  # below this, last week's batches and accrued commissions may not exist
MAX_INTENTS = 100_000_000
MAX_SEED = 2**31 - 1


@dataclass
class SimulationReport:
    intents: int
    seed: int
    as_of: datetime
    live_at: datetime
    faults: list[str]
    sizes: dict[str, int]
    row_counts: dict[str, int] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    database_bytes: int = 0
    database: str = ""


def plan_sizes(intents: int) -> dict[str, int]:
    """How big the rest of the platform is for ``intents`` intents."""
    programs = min(12, 3 + intents // 100_000)
    return {"programs": programs,
            "affiliates": max(30, intents // 50),
            "users": max(100, intents // 5),
            "endpoints": 2 * programs + 1,
            "rpc_calls": max(500, intents // 5),
            "noise_tx": max(20, intents // 50)}


def parse_faults(faults: str | Iterable[str] | None) -> list[str]:
    """``"a,b"``, ``"all"`` or a list of names → known names in catalogue order."""
    if faults is None:
        return []
    items = faults.split(",") if isinstance(faults, str) else list(faults)
    names = {item.strip() for item in items if item and item.strip()}
    if "all" in names:
        return list(FAULT_NAMES)
    unknown = sorted(names - set(FAULT_NAMES))
    if unknown:
        raise UsageError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULT_NAMES)} "
                         "(or 'all')")
    return [name for name in FAULT_NAMES if name in names]


class Simulator:
    def __init__(self, recon: "Recon"):
        self.recon = recon

    def run(self, *, intents: int = 20_000, seed: int = 42, faults: str | Iterable[str] | None = None,
            as_of: datetime | None = None, reset: bool = False,
            progress: Callable[[str], None] | None = None) -> SimulationReport:
        """Load a simulated platform. Validates everything before writing anything."""
        fault_names = parse_faults(faults)
        if not MIN_INTENTS <= intents <= MAX_INTENTS:
            raise UsageError(f"--intents must be between {MIN_INTENTS:,} and {MAX_INTENTS:,}, "
                             f"got {intents:,}")
        if not 0 <= seed <= MAX_SEED:
            raise UsageError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=timezone.utc)
        sizes = plan_sizes(intents)
        started = time.perf_counter()
        setup_database(self.recon)
        params = {"seed": seed, "as_of": as_of, "intents": intents, **sizes}
        result = sim_db.load(self.recon.db, params, fault_names, reset=reset, progress=progress)
        return SimulationReport(
            intents=intents, seed=seed, as_of=result.as_of, live_at=result.live_at,
            faults=fault_names, sizes=sizes, row_counts=result.row_counts,
            step_seconds=result.step_seconds, seconds=time.perf_counter() - started,
            database_bytes=result.database_bytes, database=self.recon.db.where)
