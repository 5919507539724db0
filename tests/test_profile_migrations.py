"""SGE's own schema migrations run after `PLATFORM_PROFILE=sge sge-recon db init` (audit sge, N1).

The profile's relations in recon_platform are views over SQL functions whose bodies are strings,
so PostgreSQL records no dependency on the platform's tables, columns or enum types: Prisma's
migrations (a column's type changed, a column dropped, an enum value removed by swapping the enum
type) run as if sge-recon were not there. Afterwards the checks either read the same data or
error naming the relation and `sge-recon db init`, never return converted data; the functions are
inlined, so the checks keep the platform's indexes.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.checks.sqltext import for_psycopg
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import ProfileDrift, ProfileError, SchemaMismatch

from .conftest import settings_for
from .test_privileges import login_url

INTENT_CHECKS = ("stuck_intents", "processing_time")
LEDGER_CHECKS = ("ledger_balance", "transaction_balance")
# What Prisma generates to remove the enum value EXPIRED (after moving its rows elsewhere)
REMOVE_EXPIRED = """
    CREATE TYPE "IntentStatus_new" AS ENUM ('PENDING', 'PROCESSING', 'CONFIRMED', 'FAILED');
    ALTER TABLE "Intent" ALTER COLUMN "status" DROP DEFAULT;
    ALTER TABLE "Intent" ALTER COLUMN "status" TYPE "IntentStatus_new"
        USING ("status"::text::"IntentStatus_new");
    ALTER TYPE "IntentStatus" RENAME TO "IntentStatus_old";
    ALTER TYPE "IntentStatus_new" RENAME TO "IntentStatus";
    DROP TYPE "IntentStatus_old";
    ALTER TABLE "Intent" ALTER COLUMN "status" SET DEFAULT 'PENDING';
"""


def sge(new_database, intents: int = 300) -> Recon:
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    load_sge_platform(Database(url), intents=intents, seed=11)
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge"))
    recon.init_db()
    return recon


def migrate(recon: Recon, script: str) -> None:
    """Run a platform migration as its own login would (no sge-recon object in the way)."""
    with psycopg.connect(recon.db.url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(script)


def verdicts(recon: Recon, names) -> dict:
    return {n: (r.status, r.failing_rows, r.value, r.error)
            for n, r in recon.checks.run(only=list(names), store=False).by_name().items()}


@pytest.fixture(scope="module")
def shared(new_database) -> Recon:
    return sge(new_database)


def test_recon_platform_records_no_dependency_on_a_platform_object(shared):
    """Nothing in recon_platform (a view's rule, a function, a view column's type) depends on a
    table, a column or a type outside sge-recon's schemas and the catalog."""
    rows = shared.db.fetch_all("""
        WITH ours AS (
            SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c
             WHERE c.relnamespace = 'recon_platform'::regnamespace
            UNION ALL SELECT 'pg_rewrite'::regclass, w.oid FROM pg_rewrite w
             JOIN pg_class c ON c.oid = w.ev_class
             WHERE c.relnamespace = 'recon_platform'::regnamespace
            UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p
             WHERE p.pronamespace = 'recon_platform'::regnamespace)
        SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) AS what
        FROM pg_depend d JOIN ours o ON o.classid = d.classid AND o.objid = d.objid
        WHERE (pg_identify_object(d.refclassid, d.refobjid, 0)).schema
              NOT IN ('recon_platform', 'pg_catalog')""")
    assert rows == []
    kinds = shared.db.fetch_all(
        "SELECT p.proname, l.lanname = 'sql' AS sql, p.prosqlbody IS NULL AS "
        "string_body, p.provolatile, p.proparallel, p.prosecdef FROM pg_proc p "
        "JOIN pg_language l ON l.oid = p.prolang "
        "WHERE p.pronamespace = 'recon_platform'::regnamespace AND p.proname LIKE '%%__rows'")
    assert {k["proname"] for k in kinds} >= {"settlement_intents__rows", "ledger_entries__rows"}
    assert all(k["sql"] and k["string_body"] and k["provolatile"] == "s"
               and k["proparallel"] == "s" and not k["prosecdef"] for k in kinds), kinds


def test_every_object_db_init_makes_in_recon_platform_has_a_comment(shared):
    missing = shared.db.fetch_all("""
        SELECT c.relname AS name FROM pg_class c
         WHERE c.relnamespace = 'recon_platform'::regnamespace
           AND obj_description(c.oid, 'pg_class') IS NULL
        UNION ALL SELECT p.oid::regprocedure::text FROM pg_proc p
         WHERE p.pronamespace = 'recon_platform'::regnamespace
           AND obj_description(p.oid, 'pg_proc') IS NULL""")
    assert missing == []


def test_the_functions_are_inlined_onto_the_platforms_indexes(shared):
    """stuck_intents through recon_platform.settlement_intents: no function scan, the status
    flags read as the enum's comparison on "Intent"'s own status index."""
    definition = next(d for d in shared.checks.catalogue() if d.name == "stuck_intents")
    query = shared.db.relations.resolve(for_psycopg(definition.sql))
    with psycopg.connect(shared.db.url, row_factory=dict_row) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN (COSTS OFF) " + query, shared.checks.params))
    assert "Function Scan" not in plan and "of_type" not in plan, plan
    assert '"Intent_status_nextRetryAt_idx"' in plan, plan
    assert """status = ANY ('{PENDING,PROCESSING}'::"IntentStatus"[])""" in plan, plan


def test_a_decimal_widened_by_the_platform_migrates_and_the_ledger_checks_still_work(
        new_database):
    recon = sge(new_database)
    before = verdicts(recon, LEDGER_CHECKS)
    migrate(recon, 'ALTER TABLE "LedgerEntry" ALTER COLUMN "amount" SET DATA TYPE DECIMAL(28,8)')
    assert verdicts(recon, LEDGER_CHECKS) == before
    assert all(status == "pass" for status, *_ in before.values()), before


def test_a_column_the_platform_drops_migrates_and_the_checks_name_the_relation_and_db_init(
        new_database):
    recon = sge(new_database)
    migrate(recon, 'ALTER TABLE "Intent" DROP COLUMN "errorMessage"')
    got = verdicts(recon, INTENT_CHECKS + LEDGER_CHECKS)
    for name in INTENT_CHECKS:
        status, _, _, error = got[name]
        assert status == "error", got[name]
        assert "recon_platform.settlement_intents no longer fits the platform's tables" in error
        assert '"errorMessage" does not exist' in error or "errorMessage" in error, error
        assert "run `sge-recon db init` again" in error
    assert all(got[n][0] == "pass" for n in LEDGER_CHECKS), got  # other relations unaffected
    # db init again: the profile line that reads the dropped column is named
    with pytest.raises(ProfileError) as caught:
        recon.init_db()
    assert "tables.settlement_intents.columns.last_error" in caught.value.message


def test_an_enum_value_removed_by_the_platform_migrates_and_the_checks_say_run_db_init(
        new_database):
    """Prisma's swap of the enum type: the view held neither the column nor the type. The profile
    still maps EXPIRED, which the new type lacks: the checks of the intents say so."""
    recon = sge(new_database)
    migrate(recon, """UPDATE "Intent" SET status = 'FAILED' WHERE status = 'EXPIRED';"""
            + REMOVE_EXPIRED)
    got = verdicts(recon, INTENT_CHECKS + LEDGER_CHECKS)
    for name in INTENT_CHECKS:
        status, _, _, error = got[name]
        assert status == "error", got[name]
        assert "recon_platform.settlement_intents no longer fits" in error, error
        assert "EXPIRED" in error and "run `sge-recon db init` again" in error, error
    assert all(got[n][0] == "pass" for n in LEDGER_CHECKS), got
    with pytest.raises(ProfileError) as caught:
        recon.init_db()
    assert "EXPIRED is not a label of" in caught.value.message


def test_an_enum_type_swapped_with_the_same_labels_keeps_the_checks_working(new_database):
    recon = sge(new_database)
    before = verdicts(recon, INTENT_CHECKS)
    migrate(recon, REMOVE_EXPIRED.replace("'FAILED');", "'FAILED', 'EXPIRED');"))
    assert verdicts(recon, INTENT_CHECKS) == before
    # and a label added by the new type is still seen by the per-minute run (audit sge, F5)
    migrate(recon, REMOVE_EXPIRED.replace("'FAILED');", "'FAILED', 'EXPIRED', 'RETRYING');"))
    fast = recon.checks.run(only=list(INTENT_CHECKS), store=False).by_name()
    assert fast["stuck_intents"].status == "error"
    assert "settlement_intents.status RETRYING" in fast["stuck_intents"].error


@pytest.mark.parametrize("script", [
    # a naive UTC time made timestamptz: through the function's implicit cast it would be read in
    # the session's TimeZone (hours off); the type guard refuses it instead
    """ALTER TABLE "Intent" ALTER COLUMN "updatedAt" TYPE timestamptz(3)
       USING "updatedAt" AT TIME ZONE 'UTC'""",
    # an amount column that is no longer a number
    """ALTER TABLE "Settlement" ALTER COLUMN "amount" TYPE text""",
])
def test_a_column_whose_type_no_longer_fits_is_an_error_never_converted_data(new_database,
                                                                               script):
    recon = sge(new_database)
    migrate(recon, script)
    with psycopg.connect(recon.db.url, autocommit=True) as conn:
        conn.execute("ALTER DATABASE " + conn.info.dbname + " SET TimeZone = 'Asia/Kathmandu'")
    got = verdicts(recon, INTENT_CHECKS)
    for name in INTENT_CHECKS:
        status, _, _, error = got[name]
        assert status == "error", got[name]
        assert "recon_platform.settlement_intents no longer fits the platform's tables" in error
        assert "run `sge-recon db init` again" in error
    # reading the relation directly fails too (the console, an export), saying the same: no
    # converted row
    with pytest.raises(ProfileDrift) as caught:
        recon.db.fetch_all("SELECT status_changed_at, amount FROM platform.settlement_intents")
    assert "recon_platform.settlement_intents no longer fits" in caught.value.message


def test_views_made_by_an_older_sge_recon_are_refused_with_db_init(new_database):
    """Plain views (before this change) block the platform's migrations and lack the status
    flags: a run refuses to start and says to run db init."""
    recon = sge(new_database)
    recon.db.execute("DROP FUNCTION recon_platform.profile_status_labels()")
    recon = Recon(settings_for(recon.db.url, PLATFORM_PROFILE="sge"))
    with pytest.raises(SchemaMismatch) as caught:
        recon.checks.run(only=["ledger_balance"], store=False)
    assert "made by an older sge-recon" in caught.value.message
    assert "run `sge-recon db init`" in caught.value.message


def test_readers_read_through_the_functions_and_nothing_more(shared):
    """A login in sge_recon_readonly reads every relation (the functions run with its rights:
    SELECT on the platform tables the profile reads, EXECUTE on recon_platform's functions);
    it writes nothing, and a login in neither role cannot call the functions."""
    url = shared.db.url
    with psycopg.connect(url, autocommit=True) as conn:
        for name, role in (("mig_reader", "IN ROLE sge_recon_readonly"), ("mig_nobody", "")):
            conn.execute(f"DROP ROLE IF EXISTS {name}")
            conn.execute(f"CREATE ROLE {name} LOGIN {role}")
        conn.execute("GRANT USAGE ON SCHEMA recon_platform TO mig_nobody")
    try:
        reader = login_url(url, "mig_reader")
        with psycopg.connect(reader, row_factory=dict_row) as conn:
            for table in ("settlement_intents", "ledger_entries", "commissions",
                          "payout_approvals"):
                conn.execute(f"SELECT count(*) FROM recon_platform.{table}").fetchone()
            conn.rollback()
            for statement in ("""UPDATE "Intent" SET attempts = attempts + 1""",
                              "CREATE FUNCTION recon_platform.x() RETURNS int "
                              "LANGUAGE sql AS 'SELECT 1'"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
                conn.rollback()
        nobody = login_url(url, "mig_nobody")
        with psycopg.connect(nobody) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM recon_platform.settlement_intents__rows()")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("REVOKE USAGE ON SCHEMA recon_platform FROM mig_nobody")
            conn.execute("DROP ROLE mig_reader")
            conn.execute("DROP ROLE mig_nobody")
