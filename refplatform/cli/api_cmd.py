import contextlib
import signal

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--pool-size", default=10, show_default=True, type=click.IntRange(1, 100),
              help="Database connections the API may hold.")
@click.option("--sge", "sge", is_flag=True,
              help="Serve the SGE platform's /api/v2 admin endpoints (a stand-in on the "
                   "SGE-shaped tables: X-Admin-Id header, 400 for every refusal) instead of §6.")
@click.pass_obj
def api(state, host: str, port: int, pool_size: int, sge: bool) -> None:
    """Run the reference platform's admin API (DESIGN §6); OpenAPI docs at /docs.

    Needs ADMIN_API_KEY (admin operations); PAYOUT_APPROVER_1 and PAYOUT_APPROVER_2 are the keys
    that may approve payout batches. With --sge: the SGE /api/v2 stand-in (no keys; BullMQ counts
    in /api/v2/enterprise/stats from REDIS_URL). Stops cleanly on Ctrl-C or SIGTERM.
    """
    from refplatform.auth import KeyRing

    recon = state.recon()
    if not sge:
        KeyRing.from_settings(recon.settings)  # a missing admin key is an Error before anything
    import uvicorn

    from refplatform.api import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # A stop signal is a normal end here: shut down gracefully and exit 0 (uvicorn
            # would re-raise the signal afterwards, which reads as a crash to a supervisor).
            previous = {sig: signal.signal(sig, self.handle_exit)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    if sge:
        from refplatform.sge_api import create_sge_app

        app = create_sge_app(recon.settings, recon.db.url)
    else:
        app = create_app(recon.settings, database_url=recon.db.url, pool_size=pool_size)
    click.echo(f"Admin API on http://{host}:{port} (docs: /docs), on {recon.db.where}.")
    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=2)).run()
    click.echo("Admin API stopped.")
