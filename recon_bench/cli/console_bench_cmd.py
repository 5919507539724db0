"""``sge-recon console-bench``: every console page's server-side data build and render time, and
the first Overview render in a browser after the console answers (issue 18.4)."""

from __future__ import annotations

import click


@click.command("console-bench")
@click.option("--load", "load_intents", type=int, default=None, metavar="N",
              help="First RESET the platform tables and load a simulated platform of N intents "
                   "(e.g. 1000000) with every fault. DESTRUCTIVE: only against a scratch database.")
@click.option("--seed", default=42, show_default=True, help="Seed of the simulated load.")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1, 100),
              help="How many times each measurement runs (the first is the cold one).")
@click.option("--page", "pages", multiple=True, metavar="KEY",
              help="Only this page (repeatable; e.g. --page ledger). Default: every page.")
@click.option("--no-render", is_flag=True, help="Skip the AppTest render of the pages.")
@click.option("--first-render", "first_runs", default=3, show_default=True,
              type=click.IntRange(0, 20),
              help="Fresh console processes timed in Chromium to the Overview's first complete "
                   "render (0: skip).")
@click.pass_obj
def console_bench(state, load_intents: int | None, seed: int, repeat: int, pages: tuple[str, ...],
                  no_render: bool, first_runs: int) -> None:
    """Time every console page: its data build through the library (each of its loads), its
    server-side render through Streamlit's AppTest, cold and warm (target ≤ 1 s warm), and the
    first Overview render in a browser after the console answers (target ≤ 2 s)."""
    import os

    from recon_bench.console_bench import bench_overview, render_pages
    from recon_bench.console_first_render import first_render
    from recon_bench.console_pages import (FIRST_RENDER_TARGET_S, PAGE_LOADS, WARM_TARGET_MS,
                                           bench_page_data)
    from recon_bench.store.perf import platform_size
    from sge_recon.errors import UsageError

    unknown = sorted(set(pages) - set(PAGE_LOADS))
    if unknown:
        raise UsageError(f"unknown page {', '.join(unknown)}; the console's pages: "
                         f"{', '.join(PAGE_LOADS)}")
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
               f"{counts['ledger_entries']:,} ledger entries · load average "
               + ", ".join(f"{x:.1f}" for x in os.getloadavg()))

    if not pages or "overview" in pages:
        bench = bench_overview(recon, repeat)
        click.echo(f"Overview data: cold {bench.cold_ms:,.1f} ms, warm median "
                   f"{bench.warm_ms:,.1f} ms, max {bench.max_ms:,.1f} ms; of which stored "
                   f"check results {min(bench.checks_ms):,.1f}–{max(bench.checks_ms):,.1f} ms")
        for name, ms in sorted(bench.queries_ms.items(), key=lambda kv: -kv[1]):
            click.echo(f"  {name:<36} {ms:9.1f} ms (median)")

    data = {d.page: d for d in bench_page_data(recon, repeat, list(pages) or None)}
    renders = {} if no_render else {r.page: r for r in render_pages(recon, repeat, list(pages))}
    click.echo(f"\n{'page':<10} {'data cold':>10} {'data warm':>10} {'render cold':>12} "
               f"{'render warm':>12} {'cached':>8}  target ≤ {WARM_TARGET_MS / 1000:g} s warm")
    missed = []
    for page, d in data.items():
        r = renders.get(page)
        warm = r.warm_ms if r else d.warm_ms  # the render includes the data build
        ok = warm <= WARM_TARGET_MS and not (r and r.errors) and not d.errors
        missed += [] if ok else [page]
        render = (f"{r.cold_ms:10,.0f} ms {r.warm_ms:9,.0f} ms {r.cached_ms:5,.0f} ms" if r
                  else f"{'—':>13} {'—':>12} {'—':>8}")
        click.echo(f"{page:<10} {d.cold_ms:7,.0f} ms {d.warm_ms:7,.0f} ms {render}  "
                   f"{'pass' if ok else 'MISS'}")
        slowest = max(d.loads_ms.items(), key=lambda kv: kv[1])
        click.echo(f"{'':<11}slowest load: {slowest[0]} {slowest[1]:,.0f} ms")
        for error in (d.errors + (r.errors if r else []))[:3]:
            click.echo(f"{'':<11}error: {error}")
    if renders:
        click.echo("(render warm: median of the reruns with Streamlit's data cache cleared, "
                   "every query run again; cached: a rerun within the cache's TTL)")

    if first_runs and (not pages or "overview" in pages):
        click.echo("\nFirst Overview render in Chromium after a fresh console answers …", err=True)
        first = first_render(recon, first_runs, progress=lambda line: click.echo(f"  {line}",
                                                                                 err=True))
        if first.skipped:
            click.echo(f"First Overview render: not measured ({first.skipped})")
        else:
            ok = first.median_s <= FIRST_RENDER_TARGET_S
            missed += [] if ok else ["first render"]
            click.echo(f"First Overview render after the console answers: median "
                       f"{first.median_s:.2f} s, best {min(first.drawn_s):.2f} s, worst "
                       f"{max(first.drawn_s):.2f} s ({len(first.drawn_s)} fresh processes; "
                       f"target ≤ {FIRST_RENDER_TARGET_S:g} s: {'pass' if ok else 'MISS'}; load "
                       f"average {os.getloadavg()[0]:.1f})")
    click.echo(f"\nOver target: {', '.join(missed)}" if missed else "\nEvery page within target.")
