import signal
import threading

import click


@click.command()
@click.option("--worker-id", default=None,
              help="Name shown in heartbeats, 1 to 64 characters (default: worker-1, worker-2, …: "
                   "the first free one).")
@click.option("--poll-interval", default=0.5, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds to wait when no job is due.")
@click.option("--webhooks/--no-webhooks", default=True, show_default=True,
              help="Also run the webhook dispatcher in this process.")
@click.option("--max-jobs", default=None, type=click.IntRange(min=1),
              help="Stop after this many jobs (benchmarks, tests).")
@click.pass_obj
def worker(state, worker_id, poll_interval, webhooks, max_jobs) -> None:
    """Run the settlement worker of the reference platform (and its webhook dispatcher).

    Takes jobs of the `settlement` queue (honours the pause flag), heartbeats every 2 s, settles
    intents with their ledger entries and commissions in one transaction, retries transient
    failures after 1, 5, 15 and 60 min. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from refplatform.dispatcher import WebhookDispatcher
    from refplatform.worker import Worker
    from sge_recon.errors import UsageError

    if worker_id is not None and not (0 < len(worker_id) <= 64 and worker_id.isprintable()
                                      and worker_id == worker_id.strip()):
        # a long one made PostgreSQL refuse the connection (its startup packet is capped), which
        # read as "cannot connect … check that PostgreSQL is running"
        raise UsageError(f"--worker-id must be 1 to 64 printable characters without spaces at "
                         f"its ends (a name shown in heartbeats, e.g. worker-3); got "
                         f"{len(worker_id):,} characters")
    recon = state.recon()
    url = recon.db.url
    w = Worker(url, worker_id=worker_id, poll_interval=poll_interval)
    dispatcher = WebhookDispatcher(url) if webhooks else None

    def stop(signum, frame):
        w.stop()
        if dispatcher:
            dispatcher.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    thread = None
    if dispatcher:
        thread = threading.Thread(target=dispatcher.run, name="webhooks", daemon=True)
        thread.start()
    click.echo(f"Worker starting on {recon.db.where}"
               + (" with the webhook dispatcher." if dispatcher else "."))
    try:
        stats = w.run(max_jobs=max_jobs)
    finally:
        if dispatcher:
            dispatcher.stop()
            thread.join(timeout=10)
    line = (f"Worker {w.worker_id} stopped: {stats.completed} completed, {stats.retried} retried "
            f"later, {stats.failed} failed, {stats.requeued} requeued from dead workers.")
    if dispatcher:
        d = dispatcher.stats
        line += (f" Webhooks: {d.delivered} delivered, {d.retry_scheduled} to retry, "
                 f"{d.failed} failed.")
    click.echo(line)
