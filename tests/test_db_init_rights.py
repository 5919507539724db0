"""`db init` as a login without the rights it needs (the app's least-privilege login, after an
upgrade): a clear `Error:` naming the missing privilege, nothing changed, never "a bug in
sge-recon"."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest

from sge_recon.db import Database, init_db
from sge_recon.errors import InsufficientRights

from .test_privileges import login_url


@pytest.fixture
def app_login(db_url):
    name = f"recon_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE sge_recon_app")
        # an upgrade is pending: the newest migration is not applied yet
        conn.execute("DELETE FROM recon.schema_version WHERE version = 39")
        conn.execute("ALTER TABLE recon.job_runs DROP COLUMN attempts")
    yield name, login_url(db_url, name)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


def pending(db: Database) -> bool:
    return db.fetch_one("SELECT NOT EXISTS (SELECT 1 FROM recon.schema_version "
                        "WHERE version = 39) AS p")["p"]


def test_db_init_without_rights_names_the_missing_privilege_and_changes_nothing(app_login, db):
    name, url = app_login
    with pytest.raises(InsufficientRights) as caught:
        init_db(Database(url))
    message = str(caught.value)
    assert f"as the database user {name}" in message
    assert "permission denied for schema public" in message
    assert "Nothing was changed" in message and "owns the database" in message
    assert pending(db)


def test_db_init_cli_without_rights_is_a_user_error_not_a_bug(app_login, db, cli_env):
    name, url = app_login
    proc = subprocess.run([sys.executable, "-m", "sge_recon", "db", "init"],
                          env={**cli_env, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("Error: `db init` cannot set up the schema"), proc.stderr
    assert "a bug in sge-recon" not in proc.stderr and "Traceback" not in proc.stderr
    assert "pw@" not in proc.stderr  # the login's password is never shown
    assert pending(db)
