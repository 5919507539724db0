"""Shared fixtures: one embedded PostgreSQL per test session, fresh databases from a template.

`db init` runs once into a template database; every module (or test, where isolation needs it)
gets its own copy with `CREATE DATABASE … TEMPLATE`, which takes milliseconds.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from refplatform.setup import ddl_files
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.db import Database, init_db
from sge_recon.db.embedded import start_embedded, stop_embedded

from .factories import PlatformFactory

TEMPLATE_DB = "sgr_template"


def with_dbname(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the session's embedded server (the maintenance database `postgres`)."""
    # A short, world-traversable folder: the socket path must fit in 107 bytes, and as root the
    # server runs as the OS user `pgserver`.
    root = Path(tempfile.mkdtemp(prefix="sgr-", dir="/tmp"))
    root.chmod(0o755)
    url = start_embedded(root / "pg", cleanup_mode="stop")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    # the reference platform's tables (DESIGN §4) + recon: what the demo sets up
    init_db(Database(with_dbname(url, TEMPLATE_DB)), platform_ddl=ddl_files())
    yield url
    stop_embedded(root / "pg")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(pg_url):
    """Factory: a fresh, initialised database; returns its URL.

    The databases are not dropped one by one at the end: the session's whole server folder is
    removed (`pg_url`); dropping the few hundred a run makes, one by one, added about three
    minutes to the end of every run."""

    def make(*, empty: bool = False) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        template = "template0" if empty else TEMPLATE_DB
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return with_dbname(pg_url, name)

    return make


# A developer's own ./sge-recon.toml (or SGE_RECON_CONFIG) must never leak into the tests: every
# test's settings read this empty file instead, in this process and in the commands it starts.
_ISOLATED_CONFIG = Path(tempfile.mkdtemp(prefix="sgr-cfg-")) / "empty.toml"
_ISOLATED_CONFIG.write_text("# tests: no settings from a developer's config file\n")
# removed when this process ends (each pytest-xdist worker makes its own): one empty folder per
# run was left in /tmp before
atexit.register(shutil.rmtree, _ISOLATED_CONFIG.parent, ignore_errors=True)
os.environ["SGE_RECON_CONFIG"] = str(_ISOLATED_CONFIG)


def settings_for(url: str, **overrides) -> Settings:
    # ALERT_RESOLVE_AFTER_MINUTES=0: an incident resolves on the first passing evaluation, so a
    # test of something else needs no extra ticks; tests/test_incident_flapping.py sets the
    # hysteresis itself (the shipped default, 5 min).
    env = {"DATABASE_URL": url, "SGE_RECON_CONFIG": str(_ISOLATED_CONFIG),
           "ALERT_RESOLVE_AFTER_MINUTES": "0",
           **{k: str(v) for k, v in overrides.items()}}
    return Settings.load(env=env)


@pytest.fixture(scope="module")
def module_db_url(new_database) -> str:
    """One initialised database shared by the tests of a module."""
    return new_database()


@pytest.fixture
def db_url(new_database) -> str:
    """A fresh initialised database for this test alone."""
    return new_database()


@pytest.fixture
def db(db_url) -> Database:
    return Database(db_url)


@pytest.fixture
def recon(db_url) -> Recon:
    return Recon(settings_for(db_url))


@pytest.fixture
def factory(db) -> PlatformFactory:
    return PlatformFactory(db)


@pytest.fixture
def cli_env(db_url, tmp_path) -> dict[str, str]:
    """Environment for running `sge-recon` as a subprocess against this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=db_url, SGE_RECON_HOME=str(tmp_path / "home"))
    return env


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the session (Debian's, installed by `python3 dev.py test`) on a
    free 127.0.0.1 port in a temp folder; tests that stop it must restart it."""
    from refplatform.redis_server import PrivateRedis

    server = PrivateRedis.start()
    yield server
    server.close()
