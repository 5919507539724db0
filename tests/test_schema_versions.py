"""The recon schema's version against the code's migrations: a database set up by a NEWER
sge-recon (a migration this code does not know) is refused by every command, `db init` included,
and a schema with a gap (a migration missing below the newest) stops the scheduler."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sge_recon.db import Database, init_db
from sge_recon.db.schema import migrations
from sge_recon.errors import SchemaMismatch

NEWEST = max(v for v, _, _ in migrations())


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=180)


def versions(db: Database) -> list[int]:
    return [r["version"] for r in db.fetch_all(
        "SELECT version FROM recon.schema_version ORDER BY version")]


def future(db: Database) -> None:
    db.execute("INSERT INTO recon.schema_version (version, name) VALUES (%s, 'from_the_future')",
               (NEWEST + 1,))


def test_db_init_refuses_a_schema_newer_than_the_code_and_changes_nothing(db):
    future(db)
    before = versions(db)
    with pytest.raises(SchemaMismatch) as caught:
        init_db(db)
    message = str(caught.value)
    assert f"{NEWEST + 1:04d}_from_the_future" in message
    assert "does not know" in message and "Nothing was run or changed" in message
    assert versions(db) == before


@pytest.mark.parametrize("command", [("db", "init"), ("check",), ("scheduler", "--once")])
def test_every_command_refuses_a_schema_newer_than_the_code(db, cli_env, command):
    future(db)
    proc = cli(cli_env, *command)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("Error: "), proc.stderr
    assert f"{NEWEST + 1:04d}_from_the_future" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert db.fetch_one("SELECT count(*) AS n FROM recon.job_runs")["n"] == 0
    assert db.fetch_one("SELECT count(*) AS n FROM recon.check_runs")["n"] == 0


def test_the_scheduler_refuses_a_schema_with_a_missing_migration_below_the_newest(db, cli_env):
    db.execute("DELETE FROM recon.schema_version WHERE version = 21")  # 0021_journal not applied
    proc = cli(cli_env, "scheduler", "--once")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "lacks migration 0021_journal" in proc.stderr
    assert "sge-recon db init" in proc.stderr
    assert db.fetch_one("SELECT count(*) AS n FROM recon.job_runs")["n"] == 0
