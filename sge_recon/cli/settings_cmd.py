import click

from ..config import Settings


@click.command()
@click.option("--show", is_flag=True, help="Also show the current values (secrets masked).")
@click.pass_obj
def settings(state, show: bool) -> None:
    """List every setting with its default and help; with --show, the values in effect."""
    settings = state.recon().settings if show else None
    current = settings.masked() if settings else {}
    for item in Settings.describe():
        line = f"{item['name']} (default: {_text(item['default'])})"
        if settings is not None:
            value = getattr(settings, item["name"])
            line += f" = {_text(current[item['name']]) if value is not None else '(unset)'}"
            if item["name"] == "DATABASE_URL" and value is None:
                line += (f" → the embedded PostgreSQL in {settings.home / 'pgdata'} "
                         "(`sge-recon db url` prints its connection string)")
            if item["name"] == "CHECKS_DIR" and not value:
                line += f" → {settings.checks_dir}"
        click.echo(line)
        click.echo(f"    {item['help']}")


def _text(value) -> str:
    # an empty default printed bare read as a missing value ("default: )")
    return "(unset)" if value is None else "(empty)" if value == "" else str(value)
