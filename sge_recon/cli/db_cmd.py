import click


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("init")
@click.pass_obj
def init(state) -> None:
    """Create the platform schema where absent (DESIGN §4) and migrate the recon schema.

    Idempotent: running it twice changes nothing. A platform table of the wrong shape stops it
    before any change.
    """
    recon = state.recon()
    report = recon.init_db()
    for note in report.notes:
        click.echo(f"Note: {note}", err=True)
    where = recon.db.where
    if not report.changed:
        click.echo(f"Database {where} is up to date (recon schema version {report.recon_version}).")
        return
    if report.created_tables:
        click.echo(f"Created {len(report.created_tables)} platform tables in {where}.")
    for name in report.applied_migrations:
        click.echo(f"Applied recon migration {name}.")
    click.echo(f"recon schema at version {report.recon_version}.")
