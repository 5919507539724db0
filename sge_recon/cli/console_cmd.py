import click


@click.command()
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the console on 127.0.0.1.")
@click.pass_obj
def console(state, port: int) -> None:
    """Run the ops console (Streamlit) alone, against DATABASE_URL and SGE_ADMIN_API_URL.

    Uses the project's .streamlit/config.toml wherever it is started from. Set CONSOLE_PASSWORD
    to ask viewers for a password. Stops on Ctrl-C or SIGTERM.
    """
    import os
    import signal
    import subprocess
    import sys

    from ..console.launch import streamlit_command

    recon = state.recon()
    # Resolve the database once here (an embedded server starts now, not inside a page) and
    # hand it to the app, which loads its settings from the environment.
    env = {**os.environ, "DATABASE_URL": recon.db.url}
    click.echo(f"Console on http://127.0.0.1:{port} · database {recon.db.where} · admin API "
               f"{recon.settings.SGE_ADMIN_API_URL}"
               + (f" · single sign-on via {recon.settings.OIDC_PROVIDER_NAME}"
                  if recon.settings.oidc_enabled else ""))
    # Streamlit runs as a child (`python -m streamlit run app/main.py`), so that `streamlit` is
    # imported only by the app, and this process stays to release the embedded server on exit.
    child = subprocess.Popen(streamlit_command(sys.executable, port, recon.settings), env=env)

    def forward(signum, frame):
        child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    code = child.wait()
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise click.ClickException(f"the console (Streamlit) exited with code {code}")
