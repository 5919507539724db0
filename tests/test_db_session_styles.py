"""A database or role may set a DateStyle or IntervalStyle psycopg cannot read (ALTER DATABASE …
SET datestyle = 'SQL, DMY'); every connection of the data-access layer still reads instants and
intervals exactly, and keeps the session's day/month order for what SQL parses."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from sge_recon.context import Recon
from sge_recon.db.connection import Database
from sge_recon.db.job_runs import database_now

from .conftest import settings_for


@pytest.fixture
def european(db_url, db) -> Database:
    name = db.fetch_one("SELECT current_database() AS name")["name"]
    db.execute(f"ALTER DATABASE {name} SET datestyle = 'SQL, DMY'")
    db.execute(f"ALTER DATABASE {name} SET intervalstyle = 'sql_standard'")
    return Database(db_url)  # its new sessions take the database's settings


def test_the_servers_clock_and_intervals_are_read_whatever_the_databases_styles(european):
    before = datetime.now(timezone.utc)
    now = database_now(european)
    assert abs(now - before) < timedelta(minutes=1)  # one machine: the same clock
    row = european.fetch_one("SELECT interval '1 day 02:03:04' AS span, "
                             "timestamptz '2025-03-04 05:06:07+00' AS at")
    assert row["span"] == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert row["at"] == datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


@pytest.mark.parametrize("autocommit", [False, True])
def test_the_sessions_day_month_order_is_kept_for_what_sql_parses(european, autocommit):
    with european.connect(autocommit=autocommit) as conn:
        row = conn.execute("SELECT '04/03/2025'::date AS day, current_setting('DateStyle') "
                           "AS style").fetchone()
        assert row == {"day": date(2025, 3, 4), "style": "ISO, DMY"}  # 4 March, not 3 April


def test_a_check_run_on_such_a_database_runs_every_check(european, db_url):
    run = Recon(settings_for(db_url)).checks.run(trigger="test")
    assert [c.name for c in run.checks if c.status == "error"] == []
    assert run.started_at.tzinfo is not None
