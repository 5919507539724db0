"""``sge-recon check-bench``: how long the check catalogue takes, per check and as a suite."""

from __future__ import annotations

import click


@click.command("check-bench")
@click.option("--load", "load_intents", type=int, default=None, metavar="N",
              help="First RESET the platform tables and load a simulated platform of N intents "
                   "(e.g. 1000000). DESTRUCTIVE: only against a scratch database.")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--no-gx", is_flag=True, help="Skip the Great Expectations suite.")
@click.option("--only", metavar="A,B", help="Benchmark only these checks.")
@click.pass_obj
def check_bench(state, load_intents: int | None, seed: int, no_gx: bool, only: str | None) -> None:
    """Time every check (its raw query and inside the suite), the full SQL suite, the GX suite,
    and the ratio of the suite to the sum of its raw queries timed in the same run."""
    from recon_bench.check_bench import run_bench
    from recon_bench.store.perf import platform_size

    recon = state.recon()
    if load_intents:
        from refplatform.simulate import Simulator

        click.echo(f"Loading a simulated platform of {load_intents:,} intents …", err=True)
        report = Simulator(recon).run(intents=load_intents, seed=seed, reset=True)
        click.echo(f"Loaded in {report.seconds:.1f} s.", err=True)
    counts = platform_size(recon.db)
    click.echo(f"Database {recon.db.where}: {counts['intents']:,} intents, "
               f"{counts['ledger_entries']:,} ledger entries")
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    bench = run_bench(recon.checks, gx=not no_gx, only=names)
    click.echo(f"{'check':<26} {'status':<6} {'raw ms':>9} {'rows':>8} {'suite ms':>9} "
               f"{'gx ms':>9}")
    for t in bench.checks:
        raw = f"{t.raw_ms:9.1f}" if t.raw_ms is not None else f"{'error':>9}"
        rows = f"{t.raw_rows:8,}" if t.raw_rows is not None else f"{'-':>8}"
        gx = f"{t.gx_ms:9.1f}" if t.gx_ms is not None else f"{'-':>9}"
        click.echo(f"{t.name:<26} {t.status:<6} {raw} {rows} {t.suite_ms:9.1f} {gx}")
    click.echo(f"SQL suite (wall): {bench.suite_ms:,.1f} ms; sum of raw queries: "
               f"{bench.raw_sum_ms:,.1f} ms; suite / raw = {bench.ratio:.2f}")
    if bench.gx_suite_ms is not None:
        click.echo(f"GX suite (wall): {bench.gx_suite_ms:,.1f} ms "
                   f"(+ GX import {bench.gx_import_ms:,.0f} ms); GX / SQL suite = "
                   f"{bench.gx_suite_ms / bench.suite_ms:.2f}; same statuses and counts: "
                   f"{'yes' if bench.parity else 'NO'}")
