"""psql-friendly: `sge-recon db url`, `sge-recon db psql`, `settings --show` for the embedded
database, and a COMMENT on every recon table and column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sge_recon.config_checks import hide_password
from sge_recon.db.connection import describe_url, masked_url, psql_target


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_recon_table_and_column_has_a_comment(db):
    missing = db.fetch_all(
        "SELECT c.relname AS tbl, a.attname AS col FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'recon' "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ("
        "  (a.attnum IS NULL AND obj_description(c.oid, 'pg_class') IS NULL) OR "
        "  (a.attnum IS NOT NULL AND (col_description(c.oid, a.attnum) IS NULL "
        "                             OR obj_description(c.oid, 'pg_class') IS NULL))) "
        "ORDER BY 1, 2")
    assert missing == []
    tables = db.fetch_one("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'recon'")["n"]
    assert tables >= 14


def test_db_url_prints_the_connection_string_with_the_password_masked(cli_env):
    proc = cli(cli_env, "db", "url")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == cli_env["DATABASE_URL"]  # the test database has no password
    env = {**cli_env, "DATABASE_URL": "postgresql://app:s3cret-pw@db.example.test:5432/platform"}
    proc = cli(env, "db", "url")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "postgresql://app:***@db.example.test:5432/platform"
    assert "s3cret-pw" not in proc.stdout + proc.stderr


def test_psql_gets_the_password_in_its_environment_never_on_the_command_line():
    assert psql_target("postgresql://app:p%40ss@h:5432/db?sslmode=require") == (
        "postgresql://app@h:5432/db?sslmode=require", {"PGPASSWORD": "p@ss"})
    assert psql_target("postgresql://app@h/db?password=x&host=/run/pg") == (
        "postgresql://app@h/db?host=/run/pg", {"PGPASSWORD": "x"})
    assert masked_url("postgresql://app@h/db?password=x") == "postgresql://app@h/db?password=***"


def test_an_sslpassword_is_never_on_psqls_command_line_nor_printed(cli_env, tmp_path):
    """libpq's ``sslpassword`` (the passphrase of the client's TLS key) is a secret too: `db url`
    masks it, and `db psql` hands it over in a private service file, never in psql's argv."""
    secret = "tls-KEY-passphrase-3b9d"
    url = "postgresql://app@h/db?sslmode=require&sslpassword=" + secret
    assert masked_url(url) == "postgresql://app@h/db?sslmode=require&sslpassword=***"
    assert hide_password(url) == masked_url(url)
    target, env = psql_target(url, tmp_path)
    assert secret not in target and target.endswith("service=sge-recon-child")
    service_file = Path(env["PGSERVICEFILE"])
    assert service_file.read_text() == f"[sge-recon-child]\nsslpassword={secret}\n"
    assert service_file.stat().st_mode & 0o777 == 0o600
    # the real psql gets it: the command line (what ps shows) has no secret, psql connects
    db_url = cli_env["DATABASE_URL"]
    env = {**cli_env, "DATABASE_URL": db_url + ("&" if "?" in db_url else "?")
           + f"sslpassword={secret}"}
    # psql's shell escape: $PPID is psql itself; its command line is what `ps` shows everyone
    proc = cli(env, "db", "psql", "-At", "-c",
               "\\! tr '\\0' ' ' < /proc/$PPID/cmdline; echo; cat \"$PGSERVICEFILE\"")
    assert proc.returncode == 0, proc.stderr
    argv, service = proc.stdout.split("\n", 1)
    assert "psql" in argv and "service=sge-recon-child" in argv and secret not in argv, argv
    assert f"sslpassword={secret}" in service
    proc = cli(env, "db", "url")
    assert proc.returncode == 0 and secret not in proc.stdout + proc.stderr, proc.stdout


def test_db_psql_opens_psql_on_the_database(cli_env):
    proc = cli(cli_env, "db", "psql", "-At", "-c",
               "SELECT count(*) > 0 FROM recon.schema_version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "t"
    proc = cli(cli_env, "db", "psql", "-c", "SELECT * FROM no_such_table")
    assert proc.returncode != 0 and "no_such_table" in proc.stderr and "Traceback" not in proc.stderr


def test_settings_show_names_the_embedded_database_instead_of_none(cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"}
    proc = cli(env, "settings", "--show")
    assert proc.returncode == 0, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("DATABASE_URL")]
    assert "= (unset) → the embedded PostgreSQL in" in line and "sge-recon db url" in line
    assert "= None" not in proc.stdout


def test_where_a_url_points_reads_once_in_the_start_lines():
    """`Console on … · database database postgres on the local socket …`: describe_url said
    "database" itself for a socket but not for a host, and the start lines said it again."""
    assert describe_url("postgresql://u:pw@/recon?host=/tmp/s") == \
        "recon on the local socket in /tmp/s"
    assert describe_url("postgresql://u:pw@db.internal:5433/recon") == "db.internal:5433/recon"
