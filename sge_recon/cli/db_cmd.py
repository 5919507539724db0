import click


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("init")
@click.pass_obj
def init(state) -> None:
    """Migrate the recon schema and set up the platform profile (DESIGN §4, §11).

    Under PLATFORM_PROFILE=contract it creates the §4 tables where absent; under any other
    profile it validates the profile against the live database and (re)creates its
    contract-shaped views in the recon_platform schema, never touching a platform table.
    Idempotent. A platform table of the wrong shape, or a profile entry the database rejects,
    stops it before any change.
    """
    recon = state.recon()
    report = recon.init_db()
    for note in report.notes:
        click.echo(f"Note: {note}", err=True)
    where = recon.db.where
    if report.profile != "contract":
        click.echo(f"Profile {report.profile}: {len(report.profile_views)} contract tables mapped "
                   f"to views in recon_platform.")
        for table, reason in report.absent.items():
            click.echo(f"  {table}: absent ({reason}); its checks report unavailable")
    if not report.changed:
        click.echo(f"Database {where} is up to date (recon schema version {report.recon_version}).")
        return
    if report.created_tables:
        click.echo(f"Created {len(report.created_tables)} platform tables in {where}.")
    for name in report.applied_migrations:
        click.echo(f"Applied recon migration {name}.")
    click.echo(f"recon schema at version {report.recon_version}.")
