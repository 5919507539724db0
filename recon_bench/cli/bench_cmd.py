"""``sge-recon bench``: the scale benchmark of issue 8, from one run (table + JSON file)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click


@click.command("bench")
@click.option("--entries", type=click.IntRange(10_000, 100_000_000), default=2_000_000,
              show_default=True, metavar="N", help="Size of the simulated ledger (e.g. 10000000).")
@click.option("--home", type=click.Path(file_okay=False),
              default=lambda: str(Path(tempfile.gettempdir()) / "sge-recon-bench"),
              show_default="<tmp>/sge-recon-bench",
              help="Where the benchmark's own embedded PostgreSQL lives (kept, so that a second "
                   "run reuses the data). Ignored when DATABASE_URL is set.")
@click.option("--reset", is_flag=True,
              help="With DATABASE_URL: allow replacing its platform tables by a simulated platform "
                   "(DESTRUCTIVE: a scratch database only).")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--no-gx", is_flag=True, help="Skip the Great Expectations suite.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Where to write the figures (default bench-results/bench-<N>-<time>.json).")
@click.pass_obj
def bench(state, entries: int, home: str, reset: bool, seed: int, no_gx: bool,
          json_path: str | None) -> None:
    """Floors (raw GROUP BY over the ledger, raw COPY of one month) and, against them, the full
    SQL check suite, the GX suite, the per-minute incremental suite, the console Overview's data
    load and the export of one month (rows/s, peak RSS), with the issue's targets."""
    from recon_bench.bench import run_bench

    own = not os.environ.get("DATABASE_URL")
    recon = state.recon(SGE_RECON_HOME=str(Path(home).resolve())) if own else state.recon()
    click.echo(f"Benchmark database: {recon.db.where}", err=True)
    result = run_bench(recon, entries=entries, seed=seed, gx=not no_gx,
                       allow_reset=reset or own,
                       progress=lambda text: click.echo(f"  {text}", err=True))
    ctx = result.context
    load = ", ".join(f"{x:.1f}" for x in ctx["load_average_at_start"])
    click.echo(f"\n{result.entries:,} ledger entries · PostgreSQL {ctx['server_version']} · "
               f"{ctx['cpus']} CPUs, load {load} · checkpoint {ctx['checkpoint']['seconds']:.1f} s")
    click.echo(f"{'figure':<44} {'value':>14} {'vs floor':>9}  {'target':<30} result")
    for f in result.figures:
        value = f"{f.value:,.0f} {f.unit}" if f.unit in ("rows/s", "MB") else f"{f.value:.3f} s"
        ratio = "" if f.ratio is None else (f"{f.ratio:.0%}" if f.unit == "rows/s"
                                            else f"{f.ratio:.2f}×")
        verdict = "" if f.ok is None else ("pass" if f.ok else "MISS")
        click.echo(f"{f.name:<44} {value:>14} {ratio:>9}  {f.target:<30} {verdict}")
        if f.note:
            click.echo(f"{'':<46}{f.note}")
    path = Path(json_path) if json_path else Path("bench-results") / (
        f"bench-{result.entries}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, default=str))
    click.echo(f"figures written to {path}")
