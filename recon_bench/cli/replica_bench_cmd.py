"""``sge-recon replica-bench``: the checks on a hot standby vs its primary, and the primary's load."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click


@click.command("replica-bench")
@click.option("--entries", type=click.IntRange(1_000, 100_000_000), default=2_000_000,
              show_default=True, metavar="N", help="Size of the simulated ledger.")
@click.option("--home", type=click.Path(file_okay=False),
              default=lambda: str(Path(tempfile.gettempdir()) / "sgr-replica-bench"),
              show_default="<tmp>/sgr-replica-bench",
              help="Where the benchmark's own primary and standby live (kept, so that a second "
                   "run reuses the data; a short path: the servers' sockets live there).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Timed runs of the full suite on each server.")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write every figure here (default bench-results/replica-bench-<N>-<time>.json).")
@click.option("--write-load", "write_batch", type=click.IntRange(0, 1_000_000), default=1000,
              show_default=True, metavar="N",
              help="Then run the suite on the standby again while the primary commits N balanced "
                   "entries per transaction without pause, and sample the lag (0: skip).")
@click.option("--stop/--keep-running", default=True, show_default=True,
              help="Stop both servers at the end.")
def replica_bench(entries: int, home: str, repeat: int, seed: int, json_path: str | None,
                  write_batch: int, stop: bool) -> None:
    """Start a primary and a streaming hot standby from the embedded PostgreSQL (pg_basebackup
    -R), load ~N ledger entries on the primary, then time the full SQL check suite with every
    read on the primary and with the platform reads on the standby (PLATFORM_READ_URL); print
    the ratio and the primary's CPU time, rows read and platform-table scans during each."""
    from recon_bench.local_pair import LocalReplicaPair
    from recon_bench.replica_bench import run_replica_bench

    root = Path(home).resolve()
    try:
        result = run_replica_bench(root, entries, repeat=repeat, seed=seed,
                                   write_batch=write_batch, progress=lambda t: click.echo(f"  {t}", err=True))
    finally:
        if stop:
            LocalReplicaPair(root).stop()
    p, s = result.on_primary, result.on_standby
    click.echo(f"\n{result.entries:,} ledger entries; full SQL suite ({len(p.statuses)} checks), "
               f"{repeat} runs on each server, results not stored")
    if result.load_seconds:
        click.echo(f"load on the primary {result.load_seconds:.1f} s, pg_basebackup + standby "
                   f"start {result.basebackup_seconds:.1f} s")
    click.echo(f"{'':34} {'reads on primary':>18} {'reads on standby':>18}")
    click.echo(f"{'suite, best / median':34} {p.best:>8.2f} / {p.median:<7.2f} "
               f"{s.best:>8.2f} / {s.median:<7.2f}")
    click.echo(f"{'primary CPU s per run (median)':34} "
               f"{_med(p.primary_cpu_seconds):>18.2f} {_med(s.primary_cpu_seconds):>18.2f}")
    click.echo(f"{'standby CPU s per run (median)':34} "
               f"{_med(p.standby_cpu_seconds):>18.2f} {_med(s.standby_cpu_seconds):>18.2f}")
    click.echo(f"{'primary rows read per run':34} {_med(p.primary_tuples_read):>18,.0f} "
               f"{_med(s.primary_tuples_read):>18,.0f}")
    click.echo(f"{'primary platform-table scans':34} {_med(p.primary_platform_scans):>18,.0f} "
               f"{_med(s.primary_platform_scans):>18,.0f}")
    click.echo(f"{'primary transactions per run':34} {_med(p.primary_transactions):>18,.0f} "
               f"{_med(s.primary_transactions):>18,.0f}")
    click.echo(f"standby / primary suite time (best): {result.ratio:.2f}x")
    click.echo(f"{'check':<28} {'primary ms':>11} {'standby ms':>11} {'ratio':>6}")
    for name in p.per_check_ms:
        a, b = min(p.per_check_ms[name]), min(s.per_check_ms.get(name, [0]))
        click.echo(f"{name:<28} {a:>11.0f} {b:>11.0f} {b / a if a else 0:>6.2f}")
    for r in result.readers:
        click.echo(f"{r.name} ({r.note}) " if r.note else f"{r.name}: ", nl=False)
        click.echo("; ".join(
            f"platform read on the {side} {r.seconds[side]:.3f} s, primary CPU "
            f"{r.primary_cpu_seconds[side]:.2f} s, primary platform-table scans "
            f"{r.primary_platform_scans[side]:,}" for side in r.seconds))
    w = result.write_load
    if w is not None:
        click.echo(f"under write load: {w.entries_written:,} entries committed on the primary in "
                   f"{w.seconds:.1f} s ({w.entries_per_second:,.0f}/s) while the suite ran "
                   f"{len(w.suite_seconds)}x on the standby (median {_med(w.suite_seconds):.2f} s, "
                   f"runs {', '.join(w.run_statuses)})")
        click.echo(f"standby lag over {len(w.lag_samples)} samples: median {w.lag(0.5):.3f} s, "
                   f"p95 {w.lag(0.95):.3f} s, max {max(w.lag_samples, default=0):.3f} s; "
                   f"at most {w.behind_bytes_max:,} bytes of WAL not replayed"
                   + (f"; errors: {'; '.join(w.errors[:3])}" if w.errors else ""))
    out = Path(json_path) if json_path else Path("bench-results") / (
        f"replica-bench-{entries}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2, default=str))
    click.echo(f"figures: {out}")


def _med(values: list) -> float:
    import statistics

    return statistics.median(values) if values else 0.0
