"""``sge-recon replica-bench``: the same checks on a hot standby and on its primary, and what the
primary does while the checks run on the standby.

A primary and a streaming standby run on this machine from the embedded PostgreSQL's binaries
(:class:`~recon_bench.local_pair.LocalReplicaPair`); the simulated platform is loaded on the
primary alone and the standby taken by ``pg_basebackup`` afterwards (kept under ``--home``, so a
second run reuses both). Then, alternately, the full SQL catalogue runs with every read on the
primary (``DATABASE_URL`` only) and with the platform reads on the standby
(``PLATFORM_READ_URL``), ``repeat`` times each, results not stored. Around every run the primary's
CPU time (its postmaster, live backends and reaped children, from ``/proc``) and its statistics
(``pg_stat_database`` rows read, transactions; scans of the platform tables) are sampled.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from recon_bench import local_pair
from recon_bench.store import perf
from recon_bench.store.replica_bench import activity, remove_entries_tagged
from refplatform.setup import setup_database
from sge_recon.config import Settings

ENTRIES_PER_INTENT = 4.84


@dataclass
class SideFigures:
    seconds: list[float] = field(default_factory=list)
    primary_cpu_seconds: list[float] = field(default_factory=list)
    primary_tuples_read: list[int] = field(default_factory=list)
    primary_platform_scans: list[int] = field(default_factory=list)
    primary_transactions: list[int] = field(default_factory=list)
    standby_cpu_seconds: list[float] = field(default_factory=list)
    per_check_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class WriteLoad:
    """The standby's lag while the primary takes writes and the checks run on the standby."""

    entries_written: int = 0
    seconds: float = 0.0
    lag_samples: list[float] = field(default_factory=list)
    behind_bytes_max: int = 0
    suite_seconds: list[float] = field(default_factory=list)
    run_statuses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def entries_per_second(self) -> float:
        return self.entries_written / self.seconds if self.seconds else 0.0

    def lag(self, q: float) -> float:
        values = sorted(self.lag_samples)
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


@dataclass
class ReaderFigures:
    """One reader (the Overview's data load, or one month's export) on each server."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)            # primary | standby
    primary_cpu_seconds: dict[str, float] = field(default_factory=dict)
    primary_platform_scans: dict[str, int] = field(default_factory=dict)
    note: str = ""


@dataclass
class ReplicaBench:
    entries: int
    load_seconds: float
    basebackup_seconds: float
    on_primary: SideFigures
    on_standby: SideFigures
    context: dict[str, Any] = field(default_factory=dict)
    write_load: WriteLoad | None = None
    readers: list[ReaderFigures] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Standby suite time / primary suite time (best of each)."""
        return self.on_standby.best / self.on_primary.best

    def to_json(self) -> dict:
        return {"entries": self.entries, "load_seconds": self.load_seconds,
                "basebackup_seconds": self.basebackup_seconds, "ratio": self.ratio,
                "on_primary": asdict(self.on_primary), "on_standby": asdict(self.on_standby),
                "write_load": asdict(self.write_load) if self.write_load else None,
                "readers": [asdict(r) for r in self.readers],
                "context": self.context}


def _cpu(server: local_pair.Server) -> float:
    """CPU seconds of a server: postmaster (with its reaped children) + live children."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = server.backend_pids()
    total = 0
    for i, pid in enumerate(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])          # utime, stime
        if i == 0:
            total += int(fields[13]) + int(fields[14])      # cutime, cstime: exited backends
    return total / tick


def write_load_phase(pair: local_pair.LocalReplicaPair, recon, runs: int, batch: int,
                     progress: Callable[[str], None]) -> WriteLoad:
    """Run the suite on the standby ``runs`` times while a writer commits ``batch`` balanced
    entries at a time on the primary, as fast as it can, and a sampler measures the lag every
    0.25 s (without the settling wait the checks use)."""
    import threading
    import uuid

    from sge_recon.db.replica import measure

    out, stop = WriteLoad(), threading.Event()
    primary, standby = pair.primary.database(), pair.standby.database()

    tag = f"rb{uuid.uuid4().hex[:8]}-"

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            out.entries_written += perf.add_balanced_entries(primary, batch, f"{tag}{i}-")

    def sampler() -> None:
        while not stop.is_set():
            try:
                r = measure(standby, primary, settle_seconds=0)
                out.lag_samples.append(float(r.lag_seconds or 0))
                out.behind_bytes_max = max(out.behind_bytes_max, r.behind_bytes or 0)
            except Exception as exc:  # noqa: BLE001 - a figure, not a failure
                out.errors.append(str(exc).splitlines()[0])
            stop.wait(0.25)

    threads = [threading.Thread(target=writer, daemon=True),
               threading.Thread(target=sampler, daemon=True)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    try:
        for i in range(runs):
            r0 = time.perf_counter()
            run = recon.checks.run(trigger="bench", store=False)
            out.suite_seconds.append(time.perf_counter() - r0)
            not_passing = [f"{c.name} {c.status}" for c in run.checks if c.status != "pass"]
            out.run_statuses.append(run.status + (f" ({', '.join(not_passing)})"
                                                  if not_passing else ""))
            out.errors += [f"{c.name}: {c.error}" for c in run.checks if c.error]
            progress(f"under write load, run {i + 1}/{runs} on the standby: "
                     f"{out.suite_seconds[-1]:.2f} s, {out.run_statuses[-1]}")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        out.seconds = time.perf_counter() - t0
    removed = remove_entries_tagged(primary, tag)  # the next run reuses the same ledger
    progress(f"removed the {removed:,} entries the write load added")
    return out


def reader_figures(pair: local_pair.LocalReplicaPair, recons: dict, work: Path,
                   progress: Callable[[str], None]) -> list[ReaderFigures]:
    """The Overview's data load (median of 5) and the export of the busiest complete month, with
    the platform read on the primary and on the standby; the primary's CPU and scans meanwhile."""
    import shutil
    from datetime import datetime, timezone

    import duckdb  # noqa: F401 - the export's imports, paid once before anything is timed
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from recon_bench.store import exports as export_store
    from sge_recon.exports.period import Period

    primary_db = pair.primary.database()
    overview, export = ReaderFigures("console Overview data load (median of 5)"), None
    current = Period.of(datetime.now(timezone.utc)).label
    months = [m for m in export_store.ledger_rows_per_month(primary_db) if m["period"] < current]
    if months:
        busiest = max(months, key=lambda m: m["rows"])
        smallest = min(months, key=lambda m: m["rows"])  # warms every import path, untimed
        recons["primary"].exports.export(smallest["period"], out_dir=work / "export-warm",
                                         force=True, trigger="bench")
        shutil.rmtree(work / "export-warm", ignore_errors=True)
        export = ReaderFigures(f"export of {busiest['period']}", note=f"{busiest['rows']:,} "
                               "ledger rows")
    for side, recon in recons.items():
        recon.console.overview()  # warm
        before, cpu = activity(primary_db), _cpu(pair.primary)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            recon.console.overview()
            times.append(time.perf_counter() - t0)
        overview.primary_cpu_seconds[side] = (_cpu(pair.primary) - cpu) / 5
        time.sleep(0.6)
        overview.primary_platform_scans[side] = activity(primary_db)["platform_scans"] \
            - before["platform_scans"]
        overview.seconds[side] = statistics.median(times)
        if export is None:
            continue
        out = work / f"export-{side}"
        shutil.rmtree(out, ignore_errors=True)
        before, cpu = activity(primary_db), _cpu(pair.primary)
        t0 = time.perf_counter()
        recon.exports.export(busiest["period"], out_dir=out, force=True, trigger="bench")
        export.seconds[side] = time.perf_counter() - t0
        export.primary_cpu_seconds[side] = _cpu(pair.primary) - cpu
        time.sleep(0.6)
        export.primary_platform_scans[side] = activity(primary_db)["platform_scans"] \
            - before["platform_scans"]
        shutil.rmtree(out, ignore_errors=True)
        progress(f"Overview {overview.seconds[side] * 1000:.0f} ms, export "
                 f"{export.seconds[side]:.1f} s with the platform read on the {side}")
    return [overview] + ([export] if export else [])


def run_replica_bench(home: Path, entries: int, *, repeat: int = 3, seed: int = 42,
                      write_batch: int = 0,
                      progress: Callable[[str], None] = lambda _: None) -> ReplicaBench:
    from sge_recon.context import Recon

    pair = local_pair.LocalReplicaPair(home)
    pair.start(standby=False)
    primary_settings = Settings.load(env={"DATABASE_URL": pair.primary.url,
                                          "SGE_RECON_CONFIG": os.devnull})
    on_primary = Recon(primary_settings, application_name="replica-bench")
    setup_database(on_primary)
    current = perf.ledger_size(on_primary.db)
    load_seconds = basebackup_seconds = 0.0
    if not current or abs(current - entries) > 0.1 * entries:
        intents = max(1_000, round(entries / ENTRIES_PER_INTENT))
        progress(f"loading {intents:,} intents (~{entries:,} entries) on the primary alone …")
        from refplatform.simulate import Simulator

        pair.standby.stop()
        t0 = time.perf_counter()
        Simulator(on_primary).run(intents=intents, seed=seed, reset=True)
        load_seconds = time.perf_counter() - t0
        progress("pg_basebackup of the loaded primary → standby …")
        t0 = time.perf_counter()
        pair.rebuild_standby()
        basebackup_seconds = time.perf_counter() - t0
    else:
        progress(f"reusing {current:,} entries in {home}")
        pair.start_standby()
    pair.wait_for_replay(timeout=600)
    entries_now = perf.ledger_size(on_primary.db)
    replica_settings = Settings.load(env={"DATABASE_URL": pair.primary.url,
                                          "PLATFORM_READ_URL": pair.standby.url,
                                          "SGE_RECON_CONFIG": os.devnull})
    on_standby = Recon(replica_settings, application_name="replica-bench")

    progress("warming both servers (one untimed run each) …")
    on_primary.checks.run(trigger="bench", store=False)
    on_standby.checks.run(trigger="bench", store=False)

    sides = {"primary": SideFigures(), "standby": SideFigures()}
    primary_db = pair.primary.database()
    for i in range(repeat):
        for name, recon in (("primary", on_primary), ("standby", on_standby)):
            figures = sides[name]
            before, cpu_p, cpu_s = activity(primary_db), _cpu(pair.primary), _cpu(pair.standby)
            t0 = time.perf_counter()
            run = recon.checks.run(trigger="bench", store=False)
            seconds = time.perf_counter() - t0
            cpu_p, cpu_s = _cpu(pair.primary) - cpu_p, _cpu(pair.standby) - cpu_s
            time.sleep(0.6)  # let the backends' statistics reach the shared counters
            after = activity(primary_db)
            figures.seconds.append(seconds)
            figures.primary_cpu_seconds.append(cpu_p)
            figures.standby_cpu_seconds.append(cpu_s)
            figures.primary_tuples_read.append(after["tuples_read"] - before["tuples_read"])
            figures.primary_platform_scans.append(after["platform_scans"]
                                                  - before["platform_scans"])
            figures.primary_transactions.append(after["transactions"] - before["transactions"])
            for c in run.checks:
                figures.per_check_ms.setdefault(c.name, []).append(c.duration_ms)
                figures.statuses[c.name] = c.status
            progress(f"run {i + 1}/{repeat} on the {name}: {seconds:.2f} s, primary CPU "
                     f"{cpu_p:.2f} s, standby CPU {cpu_s:.2f} s")
    progress("the console's Overview and one month's export on each server …")
    readers = reader_figures(pair, {"primary": on_primary, "standby": on_standby}, home,
                             progress)
    load = None
    if write_batch:
        progress(f"the standby under write load ({write_batch:,} entries per transaction on the "
                 "primary) …")
        load = write_load_phase(pair, on_standby, repeat, write_batch, progress)
    return ReplicaBench(entries_now, load_seconds, basebackup_seconds, sides["primary"],
                        sides["standby"], write_load=load, readers=readers,
                        context={"repeat": repeat, "home": str(home), "cpus": os.cpu_count(),
                                 "loadavg": os.getloadavg(),
                                 "server": on_primary.db.server_version(),
                                 "run_status_on_standby": sorted(set(
                                     sides["standby"].statuses.values()))})
