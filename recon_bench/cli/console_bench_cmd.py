"""``sge-recon console-bench``: the Overview's server-side data-load and render time."""

from __future__ import annotations

import click


@click.command("console-bench")
@click.option("--load", "load_intents", type=int, default=None, metavar="N",
              help="First RESET the platform tables and load a simulated platform of N intents "
                   "(e.g. 1000000) with every fault. DESTRUCTIVE: only against a scratch database.")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1, 100),
              help="How many times each measurement runs (the first is the cold one).")
@click.option("--no-render", is_flag=True, help="Skip the AppTest render of the page.")
@click.pass_obj
def console_bench(state, load_intents: int | None, seed: int, repeat: int,
                  no_render: bool) -> None:
    """Time the Overview: building its data (target < 1 s), each of its live queries, and its
    server-side render through Streamlit's AppTest."""
    import json
    import os
    import subprocess
    import sys

    from recon_bench.console_bench import bench_overview
    from recon_bench.store.perf import platform_size
    from sge_recon.config import project_root

    recon = state.recon()
    if load_intents:
        from refplatform.simulate import Simulator

        click.echo(f"Loading a simulated platform of {load_intents:,} intents …", err=True)
        report = Simulator(recon).run(intents=load_intents, seed=seed, reset=True, faults="all")
        click.echo(f"Loaded in {report.seconds:.1f} s.", err=True)
    if recon.checks.latest() is None:
        click.echo("No stored check run: running the SQL checks once …", err=True)
        recon.checks.run(engine="sql", trigger="bench")
    counts = platform_size(recon.db)
    click.echo(f"Database {recon.db.where}: {counts['intents']:,} intents, "
               f"{counts['ledger_entries']:,} ledger entries")
    bench = bench_overview(recon, repeat)
    click.echo(f"Overview data: cold {bench.cold_ms:,.1f} ms, warm median "
               f"{bench.median_ms:,.1f} ms, max {bench.max_ms:,.1f} ms "
               f"({'within' if bench.max_ms < 1000 else 'OVER'} the 1 s target); of which stored "
               f"check results {min(bench.checks_ms):,.1f}–{max(bench.checks_ms):,.1f} ms")
    for name, ms in sorted(bench.queries_ms.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {name:<26} {ms:9.1f} ms (median)")
    if no_render:
        return
    env = dict(os.environ, DATABASE_URL=recon.db.url)
    out = subprocess.run([sys.executable, str(project_root() / "app" / "bench_render.py"),
                          str(repeat)], env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        click.echo(f"AppTest render failed: {out.stderr.strip().splitlines()[-1:]}", err=True)
        sys.exit(3)
    render = json.loads(lines[-1])
    click.echo(f"Overview render (AppTest, server side): cold {render['cold_ms']:,.1f} ms, warm "
               f"median {render['warm_median_ms']:,.1f} ms"
               + (f"; page errors: {render['errors']}" if render["errors"] else ""))
