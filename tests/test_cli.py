"""The command line: `Error: …` lines and exit codes for user mistakes, never a traceback."""

import os
import subprocess
import sys

import pytest

from sge_recon.cli import COMMANDS


def run(args, env=None, timeout=60):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=timeout)


def assert_clean_error(result, fragment):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert fragment in result.stderr, result.stderr


def test_help_lists_every_command():
    result = run(["--help"])
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_explains_itself(name):
    result = run([name, "--help"])
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_unknown_command_and_option():
    assert_clean_error(run(["reconcile-everything"]), "No such command")
    assert_clean_error(run(["db", "init", "--colour"]), "No such option")


def test_bad_setting_names_it(tmp_path):
    result = run(["db", "init"], env={"INTENT_TIMEOUT_MINUTES": "soon",
                                      "SGE_RECON_HOME": str(tmp_path)})
    assert_clean_error(result, "Error: INTENT_TIMEOUT_MINUTES: must be a whole number")
    assert result.returncode == 3


def test_malformed_database_url():
    result = run(["db", "init"], env={"DATABASE_URL": "postgres//nohost"})
    assert_clean_error(result, "Error: DATABASE_URL:")


def test_unreachable_database_hides_the_password():
    result = run(["db", "init"], env={"DATABASE_URL": "postgresql://app:hunter22@127.0.0.1:9/sge"})
    assert_clean_error(result, "Error: cannot connect to the database at 127.0.0.1:9/sge")
    assert "hunter22" not in result.stderr


def test_debug_shows_the_traceback():
    result = run(["--debug", "db", "init"],
                 env={"DATABASE_URL": "postgresql://app:pw@127.0.0.1:9/sge"})
    assert result.returncode == 3
    assert "Traceback" in result.stderr and "Error: cannot connect" in result.stderr


def test_db_init_via_cli_is_idempotent(cli_env):
    first = run(["db", "init"], env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout  # the test database was initialised from the template
    second = run(["db", "init"], env=cli_env)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_wrong_shape_via_cli(new_database, tmp_path):
    url = new_database(empty=True)
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE programs (id integer PRIMARY KEY)")
    result = run(["db", "init"], env={"DATABASE_URL": url})
    assert_clean_error(result, "do not match the contract")
    assert "Nothing was changed" in result.stderr


def test_db_init_creates_the_contract_tables_and_the_reference_platforms_when_asked(
        new_database):
    """DESIGN §10: db init creates the §4 platform schema where absent; the reference
    platform's own tables beside it (audit log, attempts, corrections) only when asked."""
    import psycopg

    url = new_database(empty=True)
    plain = run(["db", "init"], env={"DATABASE_URL": url})
    assert plain.returncode == 0, plain.stderr
    assert "Created 16 platform tables" in plain.stdout

    def stand_in_tables() -> bool:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT to_regclass('public.admin_audit_log') IS NOT NULL"
                                ).fetchone()[0]

    assert not stand_in_tables()
    reference = run(["db", "init", "--reference-platform"], env={"DATABASE_URL": url})
    assert reference.returncode == 0, reference.stderr
    assert stand_in_tables()
    again = run(["db", "init"], env={"DATABASE_URL": url})
    assert "up to date" in again.stdout


CRASHING_COMMAND = """
import sys
import click
from sge_recon import cli as entry

@click.command("crash-for-test")
def crash_for_test():
    raise RuntimeError("boom\\n  at   the end")

entry.COMMANDS["crash-for-test"] = "__main__:crash_for_test"

entry.main(sys.argv[1:])
"""


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_exits_3_not_checks_warning_code_1(debug):
    """A bug of ours (an exception that is no ReconError) must never exit 1, which `check` uses
    for "warnings only": it is one `Error:` line and exit 3, the traceback only with --debug."""
    args = (["--debug"] if debug else []) + ["crash-for-test"]
    result = subprocess.run([sys.executable, "-c", CRASHING_COMMAND, *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "Error: unexpected RuntimeError: boom at the end (a bug in sge-recon" in result.stderr
    assert ("Traceback" in result.stderr) is debug
