import click

from sge_recon.cli import COMMANDS

# = refplatform.simulate.service.MIN_INTENTS/MAX_INTENTS (not imported: --help stays light);
# the SGE fixture takes any size (it loads at least 200)
CONTRACT_MIN_INTENTS, MAX_INTENTS = 1_000, 100_000_000


@click.command()
@click.option("--intents", default=20_000, show_default=True,
              type=click.IntRange(1, MAX_INTENTS),
              help="Size of the first simulation (only when the platform is empty): 1,000 to "
                   "100,000,000 for the contract platform; --profile sge loads at least 200.")
@click.option("--seed", default=42, show_default=True, type=int, help="Simulation seed.")
@click.option("--faults", default=None, help="Faults to plant in the first simulation "
              "(comma-separated, or 'all'; see `sge-recon simulate --list-faults`). Default: a "
              "small realistic set (ledger_imbalance, stuck_intents, payout_sla, "
              "webhook_exhausted, webhook_endpoint_failing) so the console has red lights, "
              "incidents and something to act on.")
@click.option("--clean", is_flag=True, help="Plant no faults: a clean platform (all green).")
@click.option("--api-port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--console-port", "--port", default=8501, show_default=True,
              type=click.IntRange(1, 65535))
@click.option("--metrics-port", default=9108, show_default=True, type=click.IntRange(1, 65535))
@click.option("--traffic-rate", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Live traffic: new intents per second.")
@click.option("--duration", default=None, type=click.FloatRange(min=0),
              help="Stop by itself after this many seconds (default: run until Ctrl-C).")
@click.option("--profile", type=click.Choice(["contract", "sge"]), default="contract",
              show_default=True,
              help="Platform shape: contract (the reference platform with API, worker and "
              "traffic) or sge (an SGE-shaped database, read through the sge profile, in its own "
              "database sge_demo; faults default to a small realistic set).")
@click.pass_obj
def demo(state, intents, seed, faults, clean, api_port, console_port, metrics_port,
         traffic_rate, duration, profile) -> None:
    """Run the whole system: database, simulated platform, admin API, worker, traffic,
    scheduler and console. Prints the addresses; Ctrl-C stops everything.

    The first simulation plants a few faults so that the console has something to show and act
    on; --clean plants none, --faults chooses them.
    """
    from refplatform.demo import Demo, DemoOptions
    from sge_recon.errors import UsageError

    if profile == "contract" and intents < CONTRACT_MIN_INTENTS:
        raise UsageError(f"--intents {intents}: the contract platform's simulation takes 1,000 "
                         "to 100,000,000 intents")
    if clean and faults is not None:
        raise UsageError("--clean plants no faults and --faults chooses some: give one of them")
    if faults is not None and profile == "contract":
        from refplatform.simulate.service import parse_faults

        parse_faults(faults)  # an unknown fault name is an Error line before anything starts
    options = DemoOptions(intents=intents, seed=seed, faults=faults, clean=clean,
                          api_port=api_port,
                          console_port=console_port, metrics_port=metrics_port,
                          traffic_rate=traffic_rate, duration=duration, profile=profile)
    Demo(state.recon().settings, options, set(COMMANDS), echo=click.echo).run()
