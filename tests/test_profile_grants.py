"""`db init` under a profile, run by a DBA login that does not own the platform's tables (audit
drift, D4): PostgreSQL turns a GRANT it may not give into a warning, so db init "succeeded" and
every check of the app's login then failed with "permission denied for table …". It is refused
instead, naming the tables and the GRANT to ask for; nothing is made."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import InsufficientRights

from .conftest import settings_for, with_dbname
from .test_privileges import login_url


@pytest.fixture
def platform_of_another_owner(pg_url):
    """A database owned by a DBA login (CREATEROLE, not superuser) whose SGE tables belong to
    the platform's own login, which lets the DBA read them (SELECT, no grant option)."""
    tag = uuid.uuid4().hex[:8]
    owner, dba, name = f"grant_sge_{tag}", f"grant_dba_{tag}", f"t_grants_{tag}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(f"CREATE ROLE {dba} LOGIN CREATEROLE")
        conn.execute(f"CREATE DATABASE {name} OWNER {dba} TEMPLATE template0")
    url = with_dbname(pg_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {owner}")
    create_sge_schema(Database(login_url(url, owner)))
    load_sge_platform(Database(login_url(url, owner)), intents=200, seed=11)
    yield url, owner, dba
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        conn.execute(f"DROP ROLE {owner}")
        conn.execute(f"DROP ROLE {dba}")


def test_db_init_without_the_right_to_grant_is_refused_and_makes_nothing(
        platform_of_another_owner):
    url, owner, dba = platform_of_another_owner
    with psycopg.connect(login_url(url, owner), autocommit=True) as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {dba}")
    with pytest.raises(InsufficientRights) as caught:
        Recon(settings_for(login_url(url, dba), PLATFORM_PROFILE="sge")).init_db()
    message = caught.value.message
    assert "could not grant sge_recon_readonly and sge_recon_app SELECT" in message, message
    assert 'public."Intent"' in message and f"the database user {dba}" in message, message
    assert "Nothing was changed" in message and "WITH GRANT OPTION" in message, message
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN "
                            "('recon', 'recon_platform')").fetchone()[0] == 0
    # with the grant option, db init runs and the app's login reads the platform
    with psycopg.connect(login_url(url, owner), autocommit=True) as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {dba} WITH GRANT OPTION")
    Recon(settings_for(login_url(url, dba), PLATFORM_PROFILE="sge")).init_db()
    app = f"grant_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {app} LOGIN IN ROLE sge_recon_app")
    try:
        recon = Recon(settings_for(login_url(url, app), PLATFORM_PROFILE="sge"))
        results = recon.checks.run(only=["stuck_intents", "ledger_balance"],
                                   store=False).by_name()
        assert all(r.status != "error" for r in results.values()), \
            {n: r.error for n, r in results.items()}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {app}")


def test_db_init_by_a_login_that_cannot_read_the_platform_says_so_not_fix_the_profile(
        platform_of_another_owner):
    url, _, dba = platform_of_another_owner
    with pytest.raises(InsufficientRights) as caught:
        Recon(settings_for(login_url(url, dba), PLATFORM_PROFILE="sge")).init_db()
    message = caught.value.message
    assert f"runs as the database user {dba}, which may not read the platform's tables" \
        in message, message
    assert "permission denied for table Program" in message, message
    assert "fix the expression" not in message and "nothing was changed" in message, message
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN "
                            "('recon', 'recon_platform')").fetchone()[0] == 0


def test_the_platforms_next_migration_still_creates_in_public_after_db_init(new_database):
    """A platform whose migration login creates in public through PUBLIC's CREATE (the default
    before PostgreSQL 15, kept by pg_upgrade): db init under the profile used to take that
    from PUBLIC, and the platform's next migration failed with "permission denied for schema
    public". Under the contract profile sge-recon's own hardening still applies."""
    url = new_database(empty=True)
    login = f"grant_plat_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN")
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    platform = login_url(url, login)
    try:
        create_sge_schema(Database(platform))
        load_sge_platform(Database(platform), intents=200, seed=11)
        Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
        with psycopg.connect(platform, autocommit=True) as conn:  # Prisma's next migration
            conn.execute('CREATE TABLE "Refund" (id text PRIMARY KEY)')
            conn.execute('CREATE INDEX "Intent_createdAt_idx" ON "Intent" ("createdAt")')
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {login}")
            conn.execute(f"DROP ROLE {login}")


def test_under_the_contract_db_init_still_takes_create_on_public_from_public(new_database):
    url = new_database(empty=True)  # the contract: sge-recon makes the tables in public
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    Recon(settings_for(url)).init_db()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')"
                            ).fetchone()[0] is False


def test_the_readers_read_exactly_the_platform_tables_the_profile_reads(new_database):
    """docs/profiles.md: SELECT on exactly the platform tables the profile reads. SGE's
    "AuditLog" (admins' IP addresses, user agents, before/after images), which no relation
    reads, was readable by both roles (the grant on all of schema public)."""
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=200, seed=11)
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()  # twice: the same grants
    with psycopg.connect(url) as conn:
        read = {r[0] for r in conn.execute(
            "SELECT * FROM recon_platform.profile_platform_tables()")}
        readable = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename), "
            "has_table_privilege('sge_recon_readonly', format('%I.%I', schemaname, tablename), "
            "'SELECT'), has_table_privilege('sge_recon_app', format('%I.%I', schemaname, "
            "tablename), 'SELECT') FROM pg_tables WHERE schemaname = 'public'")}
    assert 'public."AuditLog"' in readable and 'public."AuditLog"' not in read
    assert {t for t, rights in readable.items() if any(rights)} == read, readable
    assert all(readable[t] == (True, True) for t in read), readable
