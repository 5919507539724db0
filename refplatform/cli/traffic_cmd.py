import signal

import click


@click.command()
@click.option("--rate", default=2.0, show_default=True, type=click.FloatRange(min=0.01, max=1000),
              help="New settlement intents per second.")
@click.option("--fault-rate", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intents with a fault (late payment, RPC error); above 0 each "
                   "program also gets a flaky webhook endpoint (fails at twice this rate) and one "
                   "down 5 minutes in every 30.")
@click.option("--batch-every", default=120.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between payout batches of the accrued commissions (0: never).")
@click.option("--receiver-port", default=0, show_default=True, type=click.IntRange(-1, 65535),
              help="Port of the local webhook receiver (0: any free port, -1: none).")
@click.option("--duration", default=None, type=click.FloatRange(min=0),
              help="Stop by itself after this many seconds.")
@click.option("--seed", default=None, type=int, help="Random seed (default: unpredictable).")
@click.option("--adopt-endpoints/--no-adopt-endpoints", default=True, show_default=True,
              help="Point the programs' other webhook endpoints (customers' servers, absent on "
                   "this machine) at the local receiver, keeping their secrets.")
@click.pass_obj
def traffic(state, rate, fault_rate, batch_every, receiver_port, duration, seed,
            adopt_endpoints) -> None:
    """Generate live platform traffic for the demo: intents with their jobs at --rate per second,
    occasional faults, payout batches, and a local webhook receiver that checks signatures.

    Uses the existing programs (creates a small one when the platform is empty). Stops cleanly
    on Ctrl-C or SIGTERM.
    """
    from refplatform.traffic import Traffic

    recon = state.recon()
    t = Traffic(recon.db.url, rate=rate, fault_rate=fault_rate, batch_every=batch_every,
                receiver_port=receiver_port, seed=seed, adopt_endpoints=adopt_endpoints,
                notify=lambda text: click.echo(text, err=True))
    signal.signal(signal.SIGINT, lambda *a: t.stop())
    signal.signal(signal.SIGTERM, lambda *a: t.stop())
    click.echo(f"Traffic: {rate:g} intents/s, fault rate {fault_rate:g}, on {recon.db.where}.")
    s = t.run(duration=duration)
    click.echo(f"Traffic stopped: {s.intents} intents ({s.faults} with faults), {s.users} new "
               f"users, {s.batches} payout batches; webhooks received {s.webhooks_received} "
               f"({s.bad_signatures} with a bad signature)" +
               (f"; {s.outages} database outage(s) ridden out." if s.outages else "."))
