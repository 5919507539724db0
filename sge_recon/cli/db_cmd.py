import click


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("init")
@click.option("--reference-platform", is_flag=True,
              help="Also create the reference platform's own tables beside DESIGN §4's (its admin "
                   "audit log, webhook attempts, ledger corrections: what the demo and the tests "
                   "run) where absent.")
@click.pass_obj
def init(state, reference_platform: bool) -> None:
    """Migrate the recon schema and set up the platform profile (DESIGN §4, §11).

    Under PLATFORM_PROFILE=contract it validates the §4 tables that exist and creates the absent
    ones (DESIGN §10; with --reference-platform also the reference platform's own tables); under
    any other
    profile it validates the profile against the live database and (re)creates its
    contract-shaped views in the recon_platform schema, never touching a platform table.
    Idempotent. A platform table of the wrong shape, or a profile entry the database rejects,
    stops it before any change.
    """
    from . import REFERENCE_PLATFORM_DDL, load_target

    ddl = load_target(REFERENCE_PLATFORM_DDL)() if reference_platform else ()
    recon = state.recon()
    report = recon.init_db(platform_ddl=ddl)
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


@db.command("url")
@click.pass_obj
def url(state) -> None:
    """Print the connection string of the database sge-recon uses, password masked.

    With DATABASE_URL unset this is the embedded PostgreSQL under SGE_RECON_HOME (started if it
    is not running). Use it with psql, pg_dump or a BI tool; `sge-recon db psql` opens psql on it
    directly (with the real password, passed in PGPASSWORD).
    """
    from ..db.connection import is_embedded, masked_url

    recon = state.recon()
    click.echo(masked_url(recon.db.url))
    if is_embedded(recon.settings):
        click.echo("Note: this is the embedded server; it runs while an sge-recon process uses "
                   "it (e.g. `sge-recon demo`). `sge-recon db psql` keeps it running for the "
                   "session.", err=True)


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def psql(state, psql_args: tuple[str, ...]) -> None:
    """Open psql on the database sge-recon uses (the embedded one when DATABASE_URL is unset).

    Extra arguments go to psql, e.g. `sge-recon db psql -c "\\d recon.*"`. The password is passed
    in PGPASSWORD (an sslpassword in a private service file), never on the command line.
    """
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from ..db.child_secrets import SecretNotPassable
    from ..db.connection import psql_target
    from ..errors import ConfigError, UsageError

    exe = shutil.which("psql")
    if not exe:
        raise UsageError("psql is not installed; install the PostgreSQL client (Debian: "
                         "apt-get install postgresql-client), or use `sge-recon db url` with "
                         "another client")
    url = state.recon().db.url
    with tempfile.TemporaryDirectory(prefix="sge-recon-psql-") as folder:  # mode 0700
        try:
            target, extra_env = psql_target(url, Path(folder))
        except SecretNotPassable as exc:
            raise ConfigError("DATABASE_URL", f"{exc}; psql never gets a secret on its "
                                              "command line") from None
        env = {**os.environ, **extra_env}
        env.pop("DATABASE_URL", None)
        code = subprocess.call([exe, target, *psql_args], env=env)
    sys.exit(code)
