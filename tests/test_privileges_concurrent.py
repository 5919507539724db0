"""`db init` on two databases of one server at the same moment: the roles are the server's, the
init lock is per database, so both may try to create sge_recon_readonly / sge_recon_app. The one
that finds the other's role (committed while it waited) goes on instead of failing."""

from __future__ import annotations

import threading
import time

import psycopg

from sge_recon.db import Database, init_db
from sge_recon.db.embedded import start_embedded, stop_embedded

from .conftest import with_dbname


def test_db_init_on_two_databases_of_one_server_at_once_both_succeed(tmp_path):
    root = tmp_path / "pg"
    tmp_path.chmod(0o755)
    url = start_embedded(root, cleanup_mode="stop")  # a server of its own: no roles yet
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE one")
            admin.execute("CREATE DATABASE two")
        other = psycopg.connect(with_dbname(url, "one"))  # the other db init, mid-transaction
        other.execute("CREATE ROLE sge_recon_readonly NOLOGIN")
        outcome: list[BaseException | None] = []

        def init_two() -> None:
            try:
                init_db(Database(with_dbname(url, "two")))
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                outcome.append(exc)

        runner = threading.Thread(target=init_two)
        runner.start()
        with psycopg.connect(url, autocommit=True) as watch:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'two' "
                    "AND wait_event_type = 'Lock'").fetchone()[0]:
                time.sleep(0.05)
        other.commit()  # the other init's role lands while this one waits on it
        other.close()
        runner.join(120)
        assert outcome == [None], outcome
        with psycopg.connect(with_dbname(url, "two")) as conn:
            assert conn.execute("SELECT max(version) FROM recon.schema_version").fetchone()[0] > 0
            assert conn.execute("SELECT has_table_privilege('sge_recon_app', "
                                "'recon.incidents', 'INSERT')").fetchone()[0]
    finally:
        stop_embedded(root)
