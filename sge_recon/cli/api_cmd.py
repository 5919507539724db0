import contextlib
import signal

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--pool-size", default=10, show_default=True, type=click.IntRange(1, 100),
              help="Database connections the API may hold.")
@click.pass_obj
def api(state, host: str, port: int, pool_size: int) -> None:
    """Run the reference platform's admin API (DESIGN §6); OpenAPI docs at /docs.

    Needs ADMIN_API_KEY (admin operations); PAYOUT_APPROVER_1 and PAYOUT_APPROVER_2 are the keys
    that may approve payout batches. Stops cleanly on Ctrl-C or SIGTERM.
    """
    from ..platform.auth import KeyRing

    recon = state.recon()
    KeyRing.from_settings(recon.settings)  # a missing admin key is an Error before anything starts
    import uvicorn

    from ..platform.api import create_app

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

    app = create_app(recon.settings, database_url=recon.db.url, pool_size=pool_size)
    click.echo(f"Admin API on http://{host}:{port} (docs: /docs), on {recon.db.where}.")
    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=2)).run()
    click.echo("Admin API stopped.")
