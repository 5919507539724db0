import click

from ..config import Settings


@click.command()
@click.option("--show", is_flag=True, help="Also show the current values (secrets masked).")
@click.pass_obj
def settings(state, show: bool) -> None:
    """List every setting with its default and help; with --show, the values in effect."""
    current = state.recon().settings.masked() if show else {}
    for item in Settings.describe():
        line = f"{item['name']} (default: {item['default']})"
        if show:
            line += f" = {current[item['name']]}"
        click.echo(line)
        click.echo(f"    {item['help']}")
