"""The composition root (sge_recon/context.py, issue 12 item 5): it builds every service from the
collaborators it uses, and opens a database only when a service first reads one. No PostgreSQL
here: a Database handle connects only when used."""

from __future__ import annotations

import pytest

from sge_recon.context import Recon
from sge_recon.db import Database, Databases

from .conftest import settings_for

PRIMARY = "postgresql://recon@127.0.0.1:1/primary"
STANDBY = "postgresql://recon@127.0.0.1:1/standby"


def test_databases_are_opened_once_on_first_use():
    opened: list[str] = []

    def open_primary() -> Database:
        opened.append("primary")
        return Database(PRIMARY)

    databases = Databases(open_primary)
    assert opened == []
    assert databases.db is databases.db
    assert databases.platform_db is databases.db  # no standby: the platform is read on the primary
    assert opened == ["primary"]


def test_bounded_databases_keep_one_server_or_bound_both():
    primary = Database(PRIMARY)
    same = Databases(primary).bounded(1000, 500)
    assert same.platform_db is same.db
    assert same.db.session_settings == {"statement_timeout": "1000", "lock_timeout": "500"}
    apart = Databases(primary, lambda db: Database(STANDBY, relations=db.relations))
    bounded = apart.bounded(1000, 500)
    assert bounded.platform_db.url == STANDBY and bounded.db.url == PRIMARY
    assert bounded.platform_db.session_settings == bounded.db.session_settings


def test_the_root_builds_every_service_without_opening_a_database(monkeypatch, tmp_path):
    def no_database(self):
        raise AssertionError("a service opened the database while being built")

    monkeypatch.setattr(Recon, "_open_database", no_database)
    recon = Recon(settings_for(PRIMARY, EXPORTS_DIR=str(tmp_path)))
    services = recon.job_services
    assert services.checks is recon.checks and services.incidents is recon.incidents
    assert services.exports is recon.exports and recon.console.checks is recon.checks
    assert recon.checks.catalogue()  # the catalogue is files: no database
    assert recon.exports.list_periods() == []
    assert recon.metrics_collector(ttl=0).describe() == []
    with pytest.raises(AssertionError, match="opened the database"):
        recon.db.ping()  # only now is the database asked for


def test_the_root_reads_the_platform_on_the_standby_with_the_primarys_relations():
    recon = Recon(settings_for(PRIMARY, PLATFORM_READ_URL=STANDBY), database=Database(PRIMARY))
    assert recon.platform_db.url == STANDBY
    assert recon.platform_db.relations is recon.db.relations
    assert recon.console.db is recon.db and recon.incidents.db is recon.db  # handed, not rebuilt
