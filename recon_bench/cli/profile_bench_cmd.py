"""``sge-recon profile-bench``: checks through the SGE profile vs the same rows in contract tables."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click


@click.command("profile-bench")
@click.option("--entries", type=click.IntRange(10_000, 100_000_000), default=2_000_000,
              show_default=True, metavar="N", help="Size of the SGE-shaped ledger.")
@click.option("--home", type=click.Path(file_okay=False),
              default=lambda: str(Path(tempfile.gettempdir()) / "sge-recon-profile-bench"),
              show_default="<tmp>/sge-recon-profile-bench",
              help="Where the benchmark's own embedded PostgreSQL lives (kept, so that a second "
                   "run reuses the data). Ignored when DATABASE_URL is set.")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Runs per check and relation set; the best counts.")
@click.option("--recommended-indexes", "indexes", is_flag=True,
              help="Time everything with the two indexes docs/profiles.md recommends to the "
                   "platform's DBA (journal key, entries' time); the benchmark's own database "
                   "only. Without the flag they are dropped first.")
@click.pass_obj
def profile_bench(state, entries: int, home: str, seed: int, repeat: int,
                  indexes: bool) -> None:
    """Every check that has data on SGE, timed through the sge profile's views and on the same
    rows copied into plain contract tables; prints each ratio and the suite's (target ≤ 1.2),
    and the per-minute run on SGE."""
    from recon_bench.profile_bench import run_profile_bench
    from sge_recon.db.connection import ensure_database, resolve_url

    overrides = {"PLATFORM_PROFILE": "sge"}
    if not os.environ.get("DATABASE_URL"):
        base = state.recon(SGE_RECON_HOME=str(Path(home).resolve()))
        overrides.update(SGE_RECON_HOME=str(Path(home).resolve()),
                         DATABASE_URL=ensure_database(resolve_url(base.settings), "sge_bench"))
    recon = state.recon(**overrides)
    click.echo(f"Benchmark database: {recon.db.where}", err=True)
    result = run_profile_bench(recon, entries, seed, repeat,
                               progress=lambda text: click.echo(f"  {text}", err=True),
                               indexes=indexes)
    click.echo(f"\n{result.entries:,} SGE ledger entries (load {result.load_seconds:.1f} s, "
               f"contract copy {result.copy_seconds:.1f} s); best of {repeat}; check sessions: "
               f"{', '.join(f'{k}={v}' for k, v in result.session_settings.items()) or 'server defaults'}"
               f"; {result.checkpointed_entries:,} entries below the checkpoint's watermark")
    click.echo(f"{'check':<24} {'sge profile':>12} {'contract':>10} {'ratio':>7} {'rows':>7}")
    for t in result.timings:
        click.echo(f"{t.name:<24} {t.profile_s:>10.3f} s {t.contract_s:>8.3f} s "
                   f"{t.ratio:>6.2f}x {t.rows:>7,}")
    verdict = "ok" if result.suite_ratio <= 1.2 else "MISSED"
    click.echo(f"{'suite':<24} {result.suite_profile_s:>10.3f} s {result.suite_contract_s:>8.3f} s "
               f"{result.suite_ratio:>6.2f}x  target ≤ 1.2: {verdict}")
    click.echo(f"per-minute run on SGE (incremental; "
               f"{result.fast_note}): {result.fast_run_seconds:.3f} s (target ≤ 1 s: "
               f"{'ok' if result.fast_run_seconds <= 1 else 'MISSED'})"
               + (f"; ERRORS in {', '.join(result.fast_errors)}" if result.fast_errors else ""))
    click.echo(f"unavailable on SGE: {', '.join(result.unavailable)}")
