"""The ``sge-recon`` command line: thin wrappers around :class:`sge_recon.context.Recon`.

Subcommands are imported only when invoked, so ``sge-recon --help`` and quick commands never pay
for heavy imports (Great Expectations, Streamlit, pyarrow).
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from typing import TYPE_CHECKING

import click

from ..errors import ReconError, UsageError

if TYPE_CHECKING:
    from ..context import Recon

# command name -> "module:attribute" (a click command or group). The product's own commands live in
# sge_recon.cli; the reference platform's (a stand-in for the real SGE service: DESIGN §1, §6, §10)
# in the separate top-level package `refplatform`, and the benchmark tooling in `recon_bench`. They
# are named here as strings and imported only when invoked: the product never imports either
# package (tests/test_import_contracts.py), and a wheel installed without the `platform` dependency
# group still runs every product command.
COMMANDS: dict[str, str] = {
    "check": "sge_recon.cli.check_cmd:check",
    "db": "sge_recon.cli.db_cmd:db",
    "export": "sge_recon.cli.export_cmd:export",
    "scheduler": "sge_recon.cli.scheduler_cmd:scheduler",
    "settings": "sge_recon.cli.settings_cmd:settings",
    "console": "sge_recon.cli.console_cmd:console",
    "users": "sge_recon.cli.users_cmd:users",
    # the reference platform (refplatform/)
    "demo": "refplatform.cli.demo_cmd:demo",
    "api": "refplatform.cli.api_cmd:api",
    "worker": "refplatform.cli.worker_cmd:worker",
    "traffic": "refplatform.cli.traffic_cmd:traffic",
    "sge-queues": "refplatform.cli.sge_queues_cmd:sge_queues",
    "simulate": "refplatform.cli.simulate_cmd:simulate",
    # benchmarks and the plan guard (recon_bench/)
    "bench": "recon_bench.cli.bench_cmd:bench",
    "check-bench": "recon_bench.cli.check_bench_cmd:check_bench",
    "console-bench": "recon_bench.cli.console_bench_cmd:console_bench",
    "profile-bench": "recon_bench.cli.profile_bench_cmd:profile_bench",
    "replica-bench": "recon_bench.cli.replica_bench_cmd:replica_bench",
}
# What `db init --reference-platform` runs first: the reference platform's DDL files.
REFERENCE_PLATFORM_DDL = "refplatform.setup:ddl_files"


def load_target(target: str):
    """The attribute a "module:attribute" string names, imported now. A missing optional part
    (the reference platform, the bench tooling, or their dependency group) is a UsageError."""
    module, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"{module.split('.')[0]} is not installed ({exc.name} is missing): this command needs "
            "the reference platform or the benchmark tooling and its `platform` dependency group; "
            "run it from a checkout with `python3 dev.py sync`") from exc


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        return load_target(target)


class AppState:
    """What the group hands to its commands: options, and the Recon built on first use."""

    def __init__(self, debug: bool, config: str | None):
        self.debug = debug
        self.config = config
        self._recon: Recon | None = None

    def recon(self, **overrides):
        from ..config import Settings
        from ..context import Recon

        if self._recon is None or overrides:
            settings = Settings.load(config_file=self.config, **overrides)
            self._recon = Recon(settings, application_name="sge-recon-cli")
        return self._recon

    def recon_on_known_schema(self):
        """``recon()`` for a command that reads or writes recon tables: refused (exit 3) when the
        recon schema has a migration this sge-recon does not know (set up by a newer release)."""
        from ..db.schema import refuse_unknown_schema

        recon = self.recon()
        refuse_unknown_schema(recon.db)
        return recon


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Optional TOML settings file (default: ./sge-recon.toml if present).")
@click.version_option(package_name="sge-recon")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config: str | None) -> None:
    """sge-recon: reconciliation and operational monitoring for the SGE settlement platform.

    Every command reads DATABASE_URL when set; otherwise it uses a private embedded PostgreSQL
    under .sge-recon/. `sge-recon settings` lists every setting.
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = AppState(debug, config)


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps library errors to `Error: …` and an exit code (traceback with --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # "--debug" anywhere before a "--" (as the unexpected-error line invites: "run it again with
    # --debug") is the group's option: `sge-recon check --debug` works like `sge-recon --debug check`
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    if debug:
        args = ["--debug"] + [a for a in args[:end] if a != "--debug"] + args[end:]
    try:
        cli.main(args=args, prog_name="sge-recon", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # Same exit code as every other "could not run" error, so that `check`'s 1 and 2 always
        # mean warnings and failures in the data.
        exc.show()
        sys.exit(3)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReconError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {fit(exc.message)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last resort: see unexpected_error_line
        if debug:
            traceback.print_exc()
        click.echo(unexpected_error_line(exc), err=True)
        sys.exit(3)
    else:
        sys.exit(0)


MAX_ERROR_CHARS = 2000


def fit(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``message`` in at most about ``limit`` characters: a value of megabytes that it quotes (a
    10 MB setting in the config file, a 100 kB argument) is cut in the middle, so the line still
    says what is wrong (its start) and how to fix it (its end)."""
    if len(message) <= limit:
        return message
    keep = limit // 2
    return (f"{message[:keep]} … [{len(message) - 2 * keep:,} characters not shown] … "
            f"{message[-keep:]}")


def unexpected_error_line(exc: BaseException) -> str:
    """The one line for an exception no library code turned into a ReconError: a bug of ours,
    unless it is a driver error that says the database's state (a lost session, a read-only
    server: sge_recon.db.connection.driver_failure).

    It exits 3 ("could not do its work"), never Python's 1, which `sge-recon check` uses for
    "warnings only": a crash must never read as a run whose worst finding was a warning."""
    if type(exc).__module__.startswith("psycopg"):  # the driver is loaded already: no import cost
        from ..db.connection import driver_failure

        sentence = driver_failure(exc)
        if sentence is not None:  # the database's state, not a bug of ours
            return f"Error: {sentence}"
    detail = " ".join(str(exc).split())[:500]
    return (f"Error: unexpected {type(exc).__name__}{': ' + detail if detail else ''} (a bug in "
            "sge-recon: nothing was concluded from this run; run it again with --debug for the "
            "traceback and report it)")

