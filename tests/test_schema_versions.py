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


@pytest.mark.parametrize("command", [("db", "init"), ("check",), ("scheduler", "--once"),
                                     ("users", "list"), ("export", "--period", "2026-10")])
def test_every_command_refuses_a_schema_newer_than_the_code(db, cli_env, command, tmp_path):
    future(db)
    proc = cli({**cli_env, "EXPORTS_DIR": str(tmp_path / "exports")}, *command)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("Error: "), proc.stderr
    assert f"{NEWEST + 1:04d}_from_the_future" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert db.fetch_one("SELECT count(*) AS n FROM recon.job_runs")["n"] == 0
    assert db.fetch_one("SELECT count(*) AS n FROM recon.check_runs")["n"] == 0
    assert not (tmp_path / "exports").exists()  # no export written from an unknown schema


def test_the_scheduler_refuses_a_schema_with_a_missing_migration_below_the_newest(db, cli_env):
    db.execute("DELETE FROM recon.schema_version WHERE version = 21")  # 0021_journal not applied
    proc = cli(cli_env, "scheduler", "--once")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "lacks migration 0021_journal" in proc.stderr
    assert "sge-recon db init" in proc.stderr
    assert db.fetch_one("SELECT count(*) AS n FROM recon.job_runs")["n"] == 0


def test_db_init_refuses_a_migration_number_applied_under_another_name(db):
    """Another branch's 0040 applied here: same number, another migration."""
    db.execute("UPDATE recon.schema_version SET name = 'other_branch_thing', sha256 = NULL "
               "WHERE version = %s", (NEWEST,))
    with pytest.raises(SchemaMismatch) as caught:
        init_db(db)
    assert f"{NEWEST:04d}_other_branch_thing" in str(caught.value)
    assert "does not know" in str(caught.value)


def test_the_console_refuses_to_start_on_a_schema_newer_than_the_code(db, cli_env):
    future(db)
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port", "8711"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started serving: stop it (SIGTERM reaches Streamlit)
        proc.terminate()
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"the console started on an unknown schema: {out}")
    assert proc.returncode == 3, (out, err)
    assert err.startswith("Error: ") and f"{NEWEST + 1:04d}_from_the_future" in err
    assert "Console on" not in out
