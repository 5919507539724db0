"""The checks' own login (sge_recon/db/check_login.py): under a superuser DATABASE_URL (the
embedded default's), a hostile check file cannot take the superuser's role back.

Before it, every check ran as sge_recon_readonly in a read-only transaction, but the session user
was still the superuser: ``set_config('role', 'postgres', true)`` in the check's own SELECT, then
a function that plans a query at run time (``ts_stat``), read server files into the failing rows.
"""

from __future__ import annotations

import logging
import shutil

import pytest

from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db.check_login import CHECK_LOGIN, checks_database, login_url

from .conftest import settings_for
from .test_least_privilege import console_user  # noqa: F401 - a fixture

# the role taken back inside the check's own statement, then a query planned at run time under
# it: pg_read_file is the superuser's (or pg_read_server_files') alone
TAKE_THE_ROLE_BACK = (
    "SELECT s.word AS leaked, 'USD' AS currency, 0 AS difference FROM ts_stat("
    "CASE WHEN set_config('role', 'postgres', true) IS NOT NULL THEN "
    "'SELECT to_tsvector(''simple'', pg_read_file(''/etc/hostname''))' END) AS s")
WHO_RUNS_IT = "SELECT session_user::text AS leaked, 'USD' AS currency, 0 AS difference"


def hostile_catalogue(recon, tmp_path, sql: str):
    catalogue = tmp_path / "checks"
    shutil.copytree(recon.settings.checks_dir, catalogue)
    # (with the columns its checks.yml `totals:` reads, so that the query plans and the login
    # is what stops it, not a missing column)
    (catalogue / "ledger_balance.sql").write_text(sql)
    return Recon(settings_for(recon.db.url, CHECKS_DIR=str(catalogue)))


@pytest.mark.parametrize("engine", ["sql", pytest.param("gx", marks=pytest.mark.slow)])
def test_a_check_cannot_take_the_superusers_role_back(recon, tmp_path, engine):
    assert recon.db.fetch_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[
        "rolsuper"]  # DATABASE_URL's login is the superuser
    hostile = hostile_catalogue(recon, tmp_path, TAKE_THE_ROLE_BACK)
    results = hostile.checks.run(only=["ledger_balance", "transaction_balance"], store=False,
                                 engine=engine).by_name()
    leaked = results["ledger_balance"]
    assert leaked.status == "error", leaked.rows
    assert 'permission denied to set role "postgres"' in leaked.error
    assert not leaked.rows
    assert results["transaction_balance"].status == "pass"  # the run went on


def test_the_checks_run_under_their_own_login_and_everything_else_does_not(recon, tmp_path):
    hostile = hostile_catalogue(recon, tmp_path, WHO_RUNS_IT)
    result = hostile.checks.run(only=["ledger_balance"], store=False).by_name()["ledger_balance"]
    assert [row["leaked"] for row in result.rows] == [CHECK_LOGIN]
    assert recon.db.fetch_one("SELECT session_user::text AS who")["who"] == "postgres"


def test_a_login_that_is_not_a_superuser_keeps_its_own(console_user, caplog):  # noqa: F811
    _, url = console_user
    db = Database(url)
    with caplog.at_level(logging.WARNING):
        assert checks_database(db) is db
    assert not caplog.records


def test_when_the_checks_login_cannot_sign_in_the_superuser_is_kept_and_said_once(db_url,
                                                                                caplog):
    db = Database(db_url)
    with caplog.at_level(logging.WARNING):
        assert checks_database(db, login="no_such_login") is db
        assert checks_database(db, login="no_such_login") is db
    [warning] = caplog.records
    assert "checks run under the superuser login postgres" in warning.getMessage()
    assert "no login no_such_login in sge_recon_readonly" in warning.getMessage()
    assert "Set DATABASE_URL to a login that is not a superuser" in warning.getMessage()


def test_the_checks_login_is_nothing_but_a_reader(db):
    role = db.fetch_one(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
        "rolbypassrls, rolpassword IS NULL AS no_password, "
        "ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "      WHERE m.member = r.oid) AS member_of "
        "FROM pg_authid r WHERE rolname = %s", (CHECK_LOGIN,))
    assert role == {"rolcanlogin": True, "rolsuper": False, "rolcreatedb": False,
                    "rolcreaterole": False, "rolreplication": False, "rolbypassrls": False,
                    "no_password": True, "member_of": ["sge_recon_readonly"]}


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://postgres:s3cret@db.example:5432/recon?sslmode=require",
     "postgresql://sge_recon_check@db.example:5432/recon?sslmode=require"),
    ("postgresql://postgres:@/postgres?host=/tmp/sgr-x/socket",
     "postgresql://sge_recon_check@/postgres?host=%2Ftmp%2Fsgr-x%2Fsocket"),
    ("postgresql:///recon?host=/run/pg&user=postgres&password=p%40ss",
     "postgresql://sge_recon_check@/recon?host=%2Frun%2Fpg"),
    ("postgresql://[::1]:5433/recon", "postgresql://sge_recon_check@[::1]:5433/recon"),
])
def test_the_checks_login_url_keeps_the_server_and_drops_the_password(url, expected):
    assert login_url(url, CHECK_LOGIN) == expected
