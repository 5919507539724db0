"""The ``sge-recon`` command line: thin wrappers around :class:`sge_recon.context.Recon`.

Subcommands are imported only when invoked, so ``sge-recon --help`` and quick commands never pay
for heavy imports (Great Expectations, Streamlit, pyarrow).
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

import click

from ..errors import ReconError

# command name -> "module:attribute" (a click command or group)
COMMANDS: dict[str, str] = {
    "check": "sge_recon.cli.check_cmd:check",
    "check-bench": "sge_recon.cli.check_bench_cmd:check_bench",
    "bench": "sge_recon.cli.bench_cmd:bench",
    "profile-bench": "sge_recon.cli.profile_bench_cmd:profile_bench",
    "replica-bench": "sge_recon.cli.replica_bench_cmd:replica_bench",
    "db": "sge_recon.cli.db_cmd:db",
    "export": "sge_recon.cli.export_cmd:export",
    "scheduler": "sge_recon.cli.scheduler_cmd:scheduler",
    "settings": "sge_recon.cli.settings_cmd:settings",
    "demo": "sge_recon.cli.demo_cmd:demo",
    "api": "sge_recon.cli.api_cmd:api",
    "worker": "sge_recon.cli.worker_cmd:worker",
    "traffic": "sge_recon.cli.traffic_cmd:traffic",
    "sge-queues": "sge_recon.cli.sge_queues_cmd:sge_queues",
    "simulate": "sge_recon.cli.simulate_cmd:simulate",
    "console": "sge_recon.cli.console_cmd:console",
    "console-bench": "sge_recon.cli.console_bench_cmd:console_bench",
    "users": "sge_recon.cli.users_cmd:users",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


class AppState:
    """What the group hands to its commands: options, and the Recon built on first use."""

    def __init__(self, debug: bool, config: str | None):
        self.debug = debug
        self.config = config
        self._recon = None

    def recon(self, **overrides):
        from ..config import Settings
        from ..context import Recon

        if self._recon is None or overrides:
            settings = Settings.load(config_file=self.config, **overrides)
            self._recon = Recon(settings, application_name="sge-recon-cli")
        return self._recon


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
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
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
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    else:
        sys.exit(0)
