import click

from ..errors import ReconError


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
    import socket
    import subprocess
    import sys

    from ..config_checks import hide_password
    from ..console.launch import streamlit_command
    from ..lifetime import die_with_parent

    with socket.socket() as sock:  # taken: say so before starting anything (exit 3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ReconError(f"port {port} on 127.0.0.1 is in use; stop what uses it or choose "
                             "another with --port") from None
    recon = state.recon()
    from ..db.schema import require_current_schema

    require_current_schema(recon.db, then="start the console again")
    # Resolve the database once here (an embedded server starts now, not inside a page) and
    # hand it to the app, which loads its settings from the environment.
    env = {**os.environ, "DATABASE_URL": recon.db.url}
    home = os.environ.get("HOME")
    if home and not os.path.isdir(home):
        # Streamlit reads ~/.streamlit/ at start and stops on a HOME that is not a folder (a
        # service account's HOME=/nonexistent, a file): give it one under SGE_RECON_HOME
        env["HOME"] = str(recon.settings.home / "console-home")
        os.makedirs(env["HOME"], exist_ok=True)
        click.echo(f"HOME ({home}) is not a folder: Streamlit's own files go to {env['HOME']}")
    click.echo(f"Console on http://127.0.0.1:{port} · database {recon.db.where} · admin API "
               f"{hide_password(recon.settings.SGE_ADMIN_API_URL)}"
               + (f" · single sign-on via {recon.settings.OIDC_PROVIDER_NAME}"
                  if recon.settings.oidc_enabled else ""))
    # Streamlit runs as a child (`python -m streamlit run app/main.py`), so that `streamlit` is
    # imported only by the app, and this process stays to release the embedded server on exit.
    child = subprocess.Popen(streamlit_command(sys.executable, port, recon.settings), env=env,
                             preexec_fn=die_with_parent)

    def forward(signum, frame):
        child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    code = child.wait()
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        # exit 3 like every "could not do its work", not click's 1
        raise ReconError(f"the console (Streamlit) exited with code {code}; its reason is in "
                         "the lines above")
