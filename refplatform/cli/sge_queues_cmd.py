import click


@click.command("sge-queues")
@click.option("--rate", default=1.0, show_default=True, type=click.FloatRange(min=0.01, max=100),
              help="New intent jobs per second on the `intents` queue.")
@click.option("--fault-rate", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="Share of job attempts that fail (an RPC timeout); after 5 attempts a job "
                   "ends in `failed`.")
@click.option("--duration", default=None, type=click.FloatRange(min=0),
              help="Stop by itself after this many seconds.")
@click.option("--seed", default=None, type=int, help="Random seed (default: unpredictable).")
@click.pass_obj
def sge_queues(state, rate, fault_rate, duration, seed) -> None:
    """SGE-shaped BullMQ traffic for the demo: jobs on the queues intents, payouts and reconciler
    of REDIS_URL, and BullMQ workers that process them (some attempts fail). Stops cleanly on
    Ctrl-C or SIGTERM."""
    from refplatform.sge_queues import SgeQueueTraffic
    from sge_recon.errors import UsageError

    settings = state.recon().settings
    if not settings.REDIS_URL:
        raise UsageError("REDIS_URL is not set; point it at the Redis the queues live on")
    traffic = SgeQueueTraffic(settings.REDIS_URL, rate=rate, fault_rate=fault_rate, seed=seed)
    click.echo(f"SGE queue traffic: {rate:g} intent jobs/s on BullMQ at "
               f"{settings.masked()['REDIS_URL']}.")
    stats = traffic.run(duration=duration)
    click.echo(f"SGE queue traffic stopped: {stats.added} jobs added, {stats.processed} "
               f"processed, {stats.failed_attempts} failed attempts.")
