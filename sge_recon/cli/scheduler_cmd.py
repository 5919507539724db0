import signal
import threading

import click

from ..errors import ReconError


class JobsFailed(ReconError):
    """`scheduler --once` ran a job that failed: exit 3, never 0."""


@click.command()
@click.option("--metrics-port", default=9108, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the Prometheus /metrics endpoint (0: any free port).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address /metrics listens on (0.0.0.0 to let a remote Prometheus scrape).")
@click.option("--no-metrics", is_flag=True, help="Do not serve /metrics.")
@click.option("--once", is_flag=True,
              help="Run what is due now (catch-up included), print the outcomes and exit: 0 "
                   "when every job succeeded (or was not due), 3 when one failed.")
@click.option("--cache-seconds", default=15.0, show_default=True, type=click.FloatRange(min=0),
              help="How long /metrics serves the same values before reading the database again.")
@click.pass_obj
def scheduler(state, metrics_port, metrics_host, no_metrics, once, cache_seconds) -> None:
    """Run the scheduled jobs (UTC) and serve /metrics until Ctrl-C.

    \b
    every minute      fast checks, a metrics sample, incident rules, alert delivery
    daily 02:00       full reconciliation (DAILY_CHECK_ENGINE, gx by default), stored, alerts
    Monday 09:00      payout reminder to Slack/Discord
    1st, 03:00        last month's audit export, catching up any missing month

    Each job slot runs once even with several schedulers on one database; every run is recorded
    in recon.job_runs. Alerts go to each channel that is set: SLACK_WEBHOOK_URL,
    DISCORD_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, ALERT_WEBHOOK_URL.
    """
    from ..metrics import MetricsServer

    from ..db.schema import require_current_schema

    recon = state.recon()
    require_current_schema(recon.db, then="start the scheduler again")
    if recon.settings.EXPORT_SIGNING_KEY:  # the monthly export signs with it: refuse now, not
        from ..exports.signing import public_key_pem  # at 03:00 on the 1st, a month later

        public_key_pem(recon.settings.EXPORT_SIGNING_KEY)
    sched = recon.scheduler
    warning = _blind_alerts_warning(recon)
    if warning:  # said at every start: the rules would otherwise stay silent, not failing
        click.echo(warning, err=True)
    if once:
        failed = []
        for outcome in sched.tick():
            line = f"{outcome.job} {outcome.scheduled_for:%Y-%m-%d %H:%M} UTC: {outcome.status}"
            bad = outcome.status in ("failed", "lost")
            click.echo(line + (f" ({outcome.error})" if outcome.error else ""), err=bad)
            if bad:
                failed.append(outcome.job)
        if failed:  # cron/systemd running --once must see it: exit 3, "could not do its work"
            raise JobsFailed(f"{len(failed)} scheduled job(s) did not succeed "
                             f"({', '.join(failed)}): the error is on the line above and in "
                             "recon.job_runs; fix it and run `sge-recon scheduler --once` again")
        return
    server = None
    if not no_metrics:
        server = MetricsServer(recon.metrics_collector(ttl=cache_seconds), metrics_port,
                               metrics_host).start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"Scheduler running against {recon.db.where}; alerts to "
               f"{_channels_text(recon.settings)}.")
    for spec in sched.jobs:
        click.echo(f"  {spec.name:<24} {spec.cadence.describe()}")
    if server:
        click.echo(f"Metrics: {server.url}")
    click.echo("Press Ctrl-C to stop.")
    sched.on_outcome = _report
    try:
        sched.run_forever(stop)
    finally:
        if server:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Scheduler stopped.")


def _blind_alerts_warning(recon) -> str | None:
    """The alerts a missing setting keeps from ever firing (the queue checks' REDIS_URL)."""
    from ..alerts.rules import rules_reading
    from ..queues import QUEUE_CHECKS, missing_source_reason

    reason = missing_source_reason(recon.settings, recon.db.relations)
    if reason is None:
        return None
    return (f"Warning: the {', '.join(rules_reading(QUEUE_CHECKS))} alerts cannot fire: "
            f"{reason}.")


CHANNEL_LABELS = {"slack": "Slack", "discord": "Discord", "pagerduty": "PagerDuty",
                  "webhook": "the webhook (ALERT_WEBHOOK_URL)"}


def _channels_text(settings) -> str:
    """Every alert channel that is set up, or which settings would set one up."""
    from ..alerts.channels import CHANNELS, configured_channels

    on = [CHANNEL_LABELS.get(name, name) for name in configured_channels(settings)]
    if on:
        return ", ".join(on)
    return f"no channel (set {', '.join(c.setting for c in CHANNELS.values())})"


def _report(outcome) -> None:
    """One line per run worth reading: every failure, every run of the daily/weekly/monthly jobs,
    and the per-minute monitor only when incidents opened, were reminded or resolved."""
    if outcome.status in ("skipped", "busy"):
        return
    incidents = (outcome.details or {}).get("incidents") or {}
    changed = any(incidents.get(k) for k in ("opened", "reminded", "resolved"))
    if outcome.job == "monitor" and outcome.status == "succeeded" and not changed:
        return
    line = (f"{outcome.scheduled_for:%Y-%m-%d %H:%M} UTC {outcome.job}: {outcome.status}"
            f" in {outcome.seconds or 0:.1f} s")
    if changed:
        line += " · incidents " + ", ".join(f"{k} {incidents[k]}" for k in
                                            ("opened", "reminded", "resolved") if incidents.get(k))
    if outcome.error:
        line += f" · {outcome.error}"
    click.echo(line, err=outcome.status in ("failed", "lost"))
