"""The profile's relations and the reader's search_path (audit drift, D2, D3).

A relation's function names the platform's tables as the profile writes them ("Intent"), so
PostgreSQL resolves them with the reader's search_path at each query. A table of the same name
in a schema earlier on it (a schema named after the login: "$user" comes first by default)
must never be read in the platform's place: the checks would pass on its rows, silently. And a
login whose search_path lacks the platform's schema is told so, not only "a platform migration".
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.checks.sqltext import for_psycopg
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import ProfileDrift, SchemaMismatch

from .conftest import settings_for
from .test_privileges import login_url


@pytest.fixture(scope="module")
def platform(new_database):
    """An SGE database with two stuck intents and a one-sided ledger entry, and a login of the
    app role ("sp_app") that owns a schema of its name holding empty "Intent" and "LedgerEntry"
    tables (the "$user" schema, first on the default search_path)."""
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=200, seed=11,
                      faults=["stuck_intents", "ledger_imbalance"])
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("sp_app", "sp_nopath"):
            conn.execute(f"DROP ROLE IF EXISTS {name}")
            conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE sge_recon_app")
        conn.execute("ALTER ROLE sp_nopath SET search_path = recon")
        conn.execute("CREATE SCHEMA sp_app AUTHORIZATION sp_app")
        for table in ("Intent", "LedgerEntry"):
            conn.execute(f'CREATE TABLE sp_app."{table}" (LIKE public."{table}")')
            conn.execute(f'ALTER TABLE sp_app."{table}" OWNER TO sp_app')
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA sp_app CASCADE")
        conn.execute("DROP OWNED BY sp_app, sp_nopath")
        conn.execute("DROP ROLE sp_app")
        conn.execute("DROP ROLE sp_nopath")


def run(url: str, *names: str) -> dict:
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge"))
    return {n: (r.status, r.failing_rows, r.error)
            for n, r in recon.checks.run(only=list(names), store=False).by_name().items()}


def test_the_platforms_own_login_sees_the_planted_faults(platform):
    got = run(platform, "stuck_intents", "ledger_balance")
    assert got["stuck_intents"][0] == "fail" and got["ledger_balance"][0] == "fail", got


def test_a_same_named_table_earlier_on_the_search_path_is_refused_never_read(platform):
    got = run(login_url(platform, "sp_app"), "stuck_intents", "ledger_balance")
    for name, table, relation in (("stuck_intents", "Intent", "settlement_intents"),
                                  ("ledger_balance", "LedgerEntry", "ledger_entries")):
        status, _, error = got[name]
        assert status == "error", got  # it passed on the empty shadow table before
        assert f'recon_platform.{relation} reads "{table}"' in error, error
        assert f'resolves to sp_app."{table}", not to public."{table}"' in error, error
        assert "search_path" in error and "nothing was read" in error, error
    # every reader says it so (the console, an export: the data-access layer)
    with pytest.raises(ProfileDrift) as caught:
        Database(login_url(platform, "sp_app")).fetch_all(
            "SELECT count(*) FROM recon_platform.settlement_intents")
    assert 'resolves to sp_app."Intent"' in caught.value.message


def test_the_guard_keeps_the_inlining_and_the_status_index(platform):
    """stuck_intents through the guarded relation: still no function scan, still the status
    index; the guard is an InitPlan, a one-time filter (evaluated once per query)."""
    recon = Recon(settings_for(platform, PLATFORM_PROFILE="sge"))
    definition = next(d for d in recon.checks.catalogue() if d.name == "stuck_intents")
    query = recon.db.relations.resolve(for_psycopg(definition.sql))
    with psycopg.connect(platform, row_factory=dict_row) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN (COSTS OFF) " + query, recon.checks.params))
    assert "Function Scan" not in plan and "of_type" not in plan, plan
    assert '"Intent_status_nextRetryAt_idx"' in plan, plan
    # the guard's call is the InitPlan's (EXPLAIN names it only when VERBOSE)
    assert "One-Time Filter: (InitPlan 1).col1" in plan, plan
    assert "Join Filter" not in plan, plan


def test_the_guard_runs_once_where_a_relation_is_the_inner_side_of_an_outer_join(platform):
    """commission_accuracy joins the programs to the commissions (LEFT JOIN): a bare guard call
    there was a join filter, a plpgsql call per commission; as an InitPlan it runs once."""
    recon = Recon(settings_for(platform, PLATFORM_PROFILE="sge"))
    definition = next(d for d in recon.checks.catalogue() if d.name == "commission_accuracy")
    query = recon.db.relations.resolve(for_psycopg(definition.sql))
    with psycopg.connect(platform, row_factory=dict_row) as conn:
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN (COSTS OFF) " + query, recon.checks.params))
    assert "Left Join" in plan, plan
    filters = [line for line in plan.splitlines() if "Filter:" in line and "reads_as_built" in line]
    assert filters == [], plan


def test_a_login_whose_search_path_lacks_the_platforms_schema_is_told_so(platform):
    got = run(login_url(platform, "sp_nopath"), "stuck_intents")
    status, _, error = got["stuck_intents"]
    assert status == "error", got
    assert 'recon_platform.settlement_intents cannot find a platform table (relation "Intent" ' \
        "does not exist)" in error, error
    assert "this login's search_path lacks the platform's schema" in error, error


def test_an_enum_type_of_the_same_name_earlier_on_the_search_path_hides_no_new_label(
        new_database):
    """profile_status_labels() looked the status's enum type up by its unqualified name: a type
    "IntentStatus" in the login's own schema (the old labels) stood in for the platform's, so a
    label the platform added since db init went unseen and stuck_intents passed while intents
    sat in it for hours."""
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=200, seed=11)
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    login = "sp_enum"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {login}")
        conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE sge_recon_app")
        conn.execute(f"CREATE SCHEMA {login} AUTHORIZATION {login}")
        labels = ", ".join(f"'{r[0]}'" for r in conn.execute(
            "SELECT enumlabel FROM pg_enum WHERE enumtypid = '\"IntentStatus\"'::regtype "
            "ORDER BY enumsortorder"))
        conn.execute(f'CREATE TYPE {login}."IntentStatus" AS ENUM ({labels})')
        conn.execute(f'ALTER TYPE {login}."IntentStatus" OWNER TO {login}')
        conn.execute("""ALTER TYPE "IntentStatus" ADD VALUE 'RETRYING'""")
        conn.execute("""UPDATE "Intent" SET status = 'RETRYING', "updatedAt" =
                        now() AT TIME ZONE 'UTC' - interval '3 hours'
                        WHERE id IN (SELECT id FROM "Intent" WHERE status = 'CONFIRMED'
                                     ORDER BY id LIMIT 3)""")
    try:
        for reader in (url, login_url(url, login)):
            status, _, error = run(reader, "stuck_intents")["stuck_intents"]
            assert status == "error", (reader, status)  # passed for the login before
            assert "settlement_intents.status RETRYING" in error, error
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {login} CASCADE")
            conn.execute(f"DROP OWNED BY {login}")
            conn.execute(f"DROP ROLE {login}")


def test_the_gx_engine_says_the_guards_refusal_as_every_reader_does(platform):
    recon = Recon(settings_for(login_url(platform, "sp_app"), PLATFORM_PROFILE="sge"))
    result = recon.checks.run(only=["stuck_intents"], engine="gx", store=False).by_name()
    error = result["stuck_intents"].error or ""
    assert result["stuck_intents"].status == "error", result
    assert error.startswith("the check's SQL failed: recon_platform.settlement_intents reads "
                            '"Intent", which'), error
    assert "psycopg" not in error and "nothing was read" in error, error


def test_an_export_says_the_guards_refusal_and_writes_nothing(platform, tmp_path):
    recon = Recon(settings_for(login_url(platform, "sp_app"), PLATFORM_PROFILE="sge"))
    with pytest.raises(ProfileDrift) as caught:
        recon.exports.export("2026-10", out_dir=tmp_path / "out", force=True)
    assert caught.value.message.startswith("recon_platform.") and \
        "which this session's search_path" in caught.value.message, caught.value.message
    assert list((tmp_path / "out").iterdir()) == []


def test_relations_made_before_the_guard_are_refused_with_db_init(new_database):
    """An installation whose relations lack the guard (db init by the previous sge-recon; no
    recon migration forces db init) would keep reading a shadow table: every run refuses to
    start and says to run db init."""
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=200, seed=11)
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    Database(url).execute("DROP FUNCTION recon_platform.reads_as_built(text, text[], text[])")
    with pytest.raises(SchemaMismatch) as caught:
        Recon(settings_for(url, PLATFORM_PROFILE="sge")).checks.run(
            only=["stuck_intents"], store=False)
    assert "without the search_path guard" in caught.value.message, caught.value.message
    assert "run `sge-recon db init`" in caught.value.message, caught.value.message
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    assert run(url, "stuck_intents")["stuck_intents"][0] == "pass"
