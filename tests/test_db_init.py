"""`db init`: idempotent, the §4 contract exactly, and no partial change on a bad shape."""

import psycopg
import pytest

from refplatform.setup import ddl_files
from sge_recon.db import Database, init_db
from sge_recon.errors import SchemaMismatch

# DESIGN §4, typed out independently of the library's own CONTRACT table.
SPEC = """
programs: id text, name text, currency text, treasury_address text, direct_commission_rate numeric, parent_commission_rate numeric, created_at timestamptz
affiliates: id text, program_id text, code text, parent_id text, created_at timestamptz
users: id text, program_id text, wallet text, referred_by text, created_at timestamptz
settlement_intents: id text, program_id text, user_id text, amount numeric, currency text, status text, idempotency_key text, attempts int, last_error text, created_at timestamptz, status_changed_at timestamptz, completed_at timestamptz
settlements: id text, intent_id text, program_id text, tx_hash text, block_number int, amount numeric, confirmed_at timestamptz
chain_transactions: tx_hash text, block_number int, from_address text, to_address text, amount numeric, observed_at timestamptz
ledger_entries: id int, program_id text, transaction_id text, intent_id text, account text, type text, amount numeric, currency text, created_at timestamptz
commissions: id text, program_id text, affiliate_id text, intent_id text, level int, rate numeric, base_amount numeric, amount numeric, status text, payout_batch_id text, created_at timestamptz
payout_batches: id text, program_id text, status text, affiliate_count int, total_amount numeric, created_at timestamptz, approved_at timestamptz, executed_at timestamptz
payout_approvals: batch_id text, approver text, approved_at timestamptz
webhook_endpoints: id text, program_id text, url text, enabled bool, disabled_at timestamptz, created_at timestamptz
webhook_deliveries: id text, endpoint_id text, event_type text, payload jsonb, status text, attempt_count int, last_error text, last_attempt_at timestamptz, next_retry_at timestamptz, created_at timestamptz
worker_heartbeats: worker_id text, started_at timestamptz, last_seen_at timestamptz, jobs_completed int
jobs: id int, queue text, intent_id text, status text, attempts int, run_at timestamptz, created_at timestamptz, started_at timestamptz, finished_at timestamptz, last_error text
queue_control: queue text, paused bool, changed_at timestamptz, changed_by text
rpc_calls: id int, provider text, method text, latency_ms numeric, ok bool, called_at timestamptz
"""
PG_TYPE = {"text": "text", "numeric": "numeric", "timestamptz": "timestamp with time zone",
           "bool": "boolean", "jsonb": "jsonb"}


def spec_columns():
    for line in SPEC.strip().splitlines():
        table, cols = line.split(": ")
        for col in cols.split(", "):
            name, typ = col.split()
            yield table, name, typ


def columns(db: Database) -> dict:
    rows = db.fetch_all("SELECT table_name, column_name, data_type, numeric_precision, "
                        "numeric_scale FROM information_schema.columns "
                        "WHERE table_schema = 'public'")
    return {(r["table_name"], r["column_name"]): r for r in rows}


def test_every_contract_column_exists_with_its_type(db):
    actual = columns(db)
    for table, name, typ in spec_columns():
        assert (table, name) in actual, f"{table}.{name} missing"
        data_type = actual[(table, name)]["data_type"]
        if typ == "int":
            assert data_type in ("integer", "bigint"), (table, name, data_type)
        else:
            assert data_type == PG_TYPE[typ], (table, name, data_type)


def test_money_is_numeric_38_6(db):
    actual = columns(db)
    for key in [("settlement_intents", "amount"), ("settlements", "amount"),
                ("chain_transactions", "amount"), ("ledger_entries", "amount"),
                ("commissions", "base_amount"), ("commissions", "amount"),
                ("payout_batches", "total_amount")]:
        assert (actual[key]["numeric_precision"], actual[key]["numeric_scale"]) == (38, 6), key


def test_added_columns_are_optional(db):
    """A row written with only the contract's columns must be valid."""
    spec = {(t, c) for t, c, _ in spec_columns()}
    rows = db.fetch_all("SELECT table_name, column_name, is_nullable, column_default "
                        "FROM information_schema.columns WHERE table_schema = 'public'")
    for r in rows:
        if (r["table_name"], r["column_name"]) not in spec and r["table_name"] in {t for t, _ in spec}:
            assert r["is_nullable"] == "YES" or r["column_default"] is not None, r


def test_contract_constraints(db, factory):
    p = factory.program()
    u = factory.user(p["id"])
    factory.intent(p["id"], u["id"], idempotency_key="k1")
    with pytest.raises(psycopg.errors.UniqueViolation):
        factory.intent(p["id"], u["id"], idempotency_key="k1")
    with pytest.raises(psycopg.errors.CheckViolation):
        factory.journal(p["id"], [("treasury", "debit", "-1")])
    with pytest.raises(psycopg.errors.CheckViolation):
        factory.intent(p["id"], u["id"], status="lost")
    # affiliates.parent_id has no FK on purpose: a dangling parent must be storable.
    factory.affiliate(p["id"], parent_id="nobody")
    assert db.fetch_one("SELECT paused FROM queue_control WHERE queue = 'settlement'") == {
        "paused": False}


def test_init_is_idempotent(db):
    def snapshot():
        return (db.fetch_all("SELECT table_schema, table_name, column_name, data_type "
                             "FROM information_schema.columns WHERE table_schema IN "
                             "('public', 'recon') ORDER BY 1, 2, 3"),
                db.fetch_all("SELECT indexname FROM pg_indexes WHERE schemaname IN "
                             "('public', 'recon') ORDER BY 1"),
                db.fetch_all("SELECT version, name FROM recon.schema_version ORDER BY 1"))

    before = snapshot()
    report = init_db(db)
    assert not report.changed
    assert snapshot() == before


def test_init_creates_everything_in_an_empty_database(new_database):
    db = Database(new_database(empty=True))
    report = init_db(db, platform_ddl=ddl_files())  # asked to set up the reference platform
    assert len(report.created_tables) == 16 and not report.missing
    assert report.applied_migrations and report.applied_migrations[0] == "0001_core"
    assert not init_db(db).changed


def test_the_product_creates_the_contract_schema_and_nothing_of_the_stand_in(new_database):
    """DESIGN §10: the §4 tables where absent; the reference platform's own tables (its audit
    log, webhook attempts, corrections, runs) only when its DDL is handed in."""
    db = Database(new_database(empty=True))
    report = init_db(db)
    assert len(report.created_tables) == 16 and report.missing == []
    assert report.applied_migrations[0] == "0001_core"
    tables = {r["table_name"] for r in db.fetch_all(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert tables == set(report.created_tables)


def test_wrong_shape_is_refused_and_nothing_changes(new_database):
    db = Database(new_database(empty=True))
    db.execute("CREATE TABLE public.ledger_entries (id bigserial PRIMARY KEY, program_id text, "
               "transaction_id text, intent_id text, account text, type text, "
               "amount double precision, currency text)")
    with pytest.raises(SchemaMismatch) as exc:
        init_db(db)
    message = str(exc.value)
    assert "ledger_entries.amount is double precision" in message
    assert "has no column created_at" in message
    assert "Nothing was changed" in message
    tables = db.fetch_all("SELECT table_name FROM information_schema.tables "
                          "WHERE table_schema IN ('public', 'recon')")
    assert [t["table_name"] for t in tables] == ["ledger_entries"]


def test_a_check_run_on_a_schema_older_than_the_code_says_run_db_init(new_database, tmp_path):
    """sge-recon upgraded and `db init` not run since: the checks would read columns and views
    that are not there yet (and report them as broken checks); the run refuses, in words."""
    import os
    import subprocess
    import sys

    from sge_recon.context import Recon

    from .conftest import settings_for

    url = new_database(empty=True)
    recon = Recon(settings_for(url))
    with pytest.raises(SchemaMismatch) as caught:
        recon.checks.run(store=False)
    assert "sge-recon's own schema (recon) is not set up" in caught.value.message
    recon.init_db()
    # the newest migration (not max + 1 after deleting it: version numbers may have gaps)
    latest = recon.db.fetch_one("SELECT max(version) AS v FROM recon.schema_version")["v"]
    recon.db.execute("DELETE FROM recon.schema_version WHERE version = %s", (latest,))
    with pytest.raises(SchemaMismatch) as caught:
        recon.checks.run(store=False)
    assert f"lacks migration {latest:04d}_" in caught.value.message
    assert "run `sge-recon db init`" in caught.value.message
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, SGE_RECON_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "sge_recon", "check"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "Error: " in done.stderr and "lacks migration" in done.stderr
    recon.init_db()  # applies it again (each migration is idempotent)
    assert recon.checks.run(only=["ledger_balance"], store=False).status == "pass"
