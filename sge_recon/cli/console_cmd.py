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

    from ..console.launch import app_path, streamlit_options

    recon = state.recon()
    # Resolve the database once here (an embedded server starts now, not inside a page) and
    # hand it to the app, which loads its settings from the environment.
    os.environ["DATABASE_URL"] = recon.db.url
    click.echo(f"Console on http://127.0.0.1:{port} · database {recon.db.where} · admin API "
               f"{recon.settings.SGE_ADMIN_API_URL}")
    from streamlit.web import bootstrap

    bootstrap.load_config_options(streamlit_options(port))
    bootstrap.run(str(app_path()), False, [], streamlit_options(port))
