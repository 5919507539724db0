from datetime import datetime

import click

from sge_recon.errors import UsageError


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--as-of must be an ISO 8601 time such as 2026-01-31T12:00:00Z, "
                         f"got {value!r}") from None


def _fault_help() -> str:
    from refplatform.simulate import FAULT_NAMES

    return ("Faults to plant, comma-separated, or 'all'. Known: " + ", ".join(FAULT_NAMES)
            + ". Without it the data is clean.")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.command()
@click.option("--intents", default=20_000, show_default=True, type=int,
              help="How many settlement intents (programs, affiliates, users, endpoints scale "
                   "with it); at least 1,000.")
@click.option("--seed", default=42, show_default=True, type=int,
              help="Same seed and same --as-of give identical rows.")
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="The simulated 'now' (ISO 8601; default: now). History covers the 90 days "
                   "before it; with an explicit value the live rows (heartbeats, in-flight "
                   "intents) are placed at it too, so the load is fully reproducible.")
@click.option("--faults", default=None, metavar="A,B|all", help=_fault_help())
@click.option("--reset", is_flag=True,
              help="Empty the platform tables first (DESTRUCTIVE). Without it, a database whose "
                   "platform tables hold data is refused.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the one-line summary.")
@click.option("--list-faults", is_flag=True,
              help="List the faults, the checks each one trips and how; touch nothing.")
@click.pass_obj
def simulate(state, intents, seed, as_of, faults, reset, quiet, list_faults) -> None:
    """Load a synthetic SGE platform: programs, affiliate trees, users, 90 days of intents,
    settlements and chain transactions, a balanced ledger, commissions, payouts, webhooks,
    workers, jobs and RPC samples. Set-based SQL, one transaction: all or nothing.

    \b
    Examples:
      sge-recon simulate --intents 50000 --reset
      sge-recon simulate --reset --faults ledger_imbalance,stuck_intents
      sge-recon simulate --intents 1000000 --reset      # prints its load time and size
    """
    from refplatform.simulate import CATALOGUE, Simulator, parse_faults

    if list_faults:
        width = max(len(f.name) for f in CATALOGUE)
        for fault in CATALOGUE:
            click.echo(f"{fault.name:<{width}}  {', '.join(fault.checks)} ({fault.status}): "
                       f"{fault.summary}")
        return
    fault_names = parse_faults(faults)  # before anything touches the database
    when = _parse_as_of(as_of)
    recon = state.recon()

    def progress(step: str) -> None:
        if not quiet:
            click.echo(f"  … {step}", err=True)

    report = Simulator(recon).run(intents=intents, seed=seed, faults=fault_names, as_of=when,
                                  reset=reset, progress=progress)
    if not quiet:
        click.echo(f"Simulated platform in {report.database} "
                   f"(seed {report.seed}, as of {report.as_of.isoformat()}):")
        width = max(len(t) for t in report.row_counts)
        for table, rows in report.row_counts.items():
            click.echo(f"  {table:<{width}}  {rows:>12,}")
        slowest = sorted(report.step_seconds.items(), key=lambda kv: -kv[1])[:5]
        click.echo("Steps: " + ", ".join(f"{name} {secs:.1f} s" for name, secs in slowest))
        click.echo("Faults: " + (", ".join(report.faults) if report.faults else "none (clean)"))
    click.echo(f"Loaded {report.intents:,} intents, "
               f"{report.row_counts.get('ledger_entries', 0):,} ledger entries in "
               f"{report.seconds:.1f} s; database size {_size(report.database_bytes)}.")
