"""The incremental checkpoint and tamper detection on a ledger with text ids (the `sge` profile):
entries are ordered by their time with a stated lag, and the watermark only moves past a
candidate once every transaction running when it was read has ended (late commits are counted,
never lost below the watermark)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from refplatform.sge_platform import create_sge_schema, load_sge_platform
from refplatform.sge_store import cuid
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db import ledger_checkpoint as checkpoint

from .checkpoint_support import advance_while_waiting, settle_checkpoint
from .conftest import settings_for

INSERT_ENTRY = """
INSERT INTO "LedgerEntry" (id, "programId", account, counterparty, amount, currency, "refType",
                           "refId", "createdAt")
VALUES (%(id)s, %(program)s, %(account)s, 'system:suspense', %(amount)s, 'USD', 'ADJUSTMENT',
        %(ref)s, coalesce(%(at)s, (now() AT TIME ZONE 'UTC')::timestamp(3)))
"""
LEDGER_CHECKS = ["ledger_balance", "transaction_balance"]


def sge(new_database, *, beside_contract: bool = False, **settings) -> Recon:
    url = new_database(empty=not beside_contract)
    db = Database(url)
    create_sge_schema(db)
    load_sge_platform(db, intents=400, seed=3)
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge", **settings))
    recon.init_db()
    return recon


def a_program(recon: Recon) -> str:
    return recon.db.fetch_one("SELECT min(id) AS id FROM platform.programs")["id"]


def entry(conn, program: str, amount: str, *, ref: str | None = None, at=None) -> None:
    """One entry as Prisma writes it: createdAt and the cuid id's time both the client's clock
    (here the transaction's start, or ``at``: naive UTC)."""
    if at is None:
        at = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::timestamp(3)").fetchone()[0]
    conn.execute(INSERT_ENTRY, {"id": cuid(at.replace(tzinfo=timezone.utc).timestamp()),
                                "program": program, "account": f"program:{program}:revenue",
                                "amount": Decimal(amount), "ref": ref or uuid.uuid4().hex,
                                "at": at})


def ledger_rows(run) -> dict[str, list]:
    return {n: [tuple(sorted(r.items())) for r in run.by_name()[n].rows] for n in LEDGER_CHECKS}


def test_the_watermark_moves_by_time_and_the_fast_run_equals_the_full_run(new_database):
    recon = sge(new_database)
    report = settle_checkpoint(recon.db)
    cp = checkpoint.read_checkpoint(recon.db)
    assert cp["ordered_by"] == "cuid" and cp["watermark"] > 0  # profiles/sge.yml: order: cuid
    now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
    assert now_us - 300 * 1_000_000 - 60_000_000 < report.watermark <= now_us - 300 * 1_000_000
    assert cp["entries"] > 1000  # the history is checkpointed
    program = a_program(recon)
    with psycopg.connect(recon.db.url) as conn:  # new, unbalanced entries above the watermark
        entry(conn, program, "12.34")
        entry(conn, program, "-2.00", ref="late-pair")
    fast = recon.checks.run(fast_only=True, store=False)
    full = recon.checks.run(only=LEDGER_CHECKS, store=False)
    assert ledger_rows(fast) == ledger_rows(full)
    assert fast.by_name()["ledger_balance"].rows[0]["difference"] == Decimal("10.340000")


def test_a_late_commit_below_the_candidate_is_waited_for_and_counted(new_database):
    recon = sge(new_database, LEDGER_ORDER_LAG_SECONDS=1)
    settle_checkpoint(recon.db)
    program = a_program(recon)
    late = psycopg.connect(recon.db.url)
    try:
        late.execute("SELECT 1")  # its transaction starts now: now() is its entries' time
        time.sleep(2.5)
        # moves to an older candidate (once another test's transactions have ended), records
        # a new one
        first = advance_while_waiting(recon.db)
        assert first.pending is not None     # ... newer than the late transaction's start
        entry(late, program, "7.00", ref="late-commit")  # stamped with its start: < candidate
        waiting = checkpoint.advance(recon.db)
        assert waiting.note == "waiting for transactions older than the candidate"
        assert waiting.watermark == first.watermark
        late.commit()
    finally:
        late.close()
    moved = checkpoint.advance(recon.db)
    assert moved.watermark == first.pending and moved.entries_added >= 1
    fast = recon.checks.run(fast_only=True, store=False)
    full = recon.checks.run(only=LEDGER_CHECKS, store=False)
    assert ledger_rows(fast) == ledger_rows(full)
    assert [r["transaction_id"] for r in fast.by_name()["transaction_balance"].rows] == \
        ["ADJUSTMENT:late-commit"]
    assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"


@pytest.mark.parametrize("change, problem", [
    ('UPDATE "LedgerEntry" SET amount = amount + 1 WHERE id = %(id)s', "rows_changed"),
    ('UPDATE "LedgerEntry" SET account = account || \'x\' WHERE id = %(id)s', "rows_changed"),
    ('DELETE FROM "LedgerEntry" WHERE id = %(id)s', "rows_deleted"),
    # columns only the profile's fingerprint reads (profiles/sge.yml: the platform's own row)
    ('UPDATE "LedgerEntry" SET counterparty = counterparty || \'x\' WHERE id = %(id)s',
     "rows_changed"),
    ('UPDATE "LedgerEntry" SET "refId" = "refId" || \'x\' WHERE id = %(id)s', "rows_changed"),
    ('UPDATE "LedgerEntry" SET "createdAt" = "createdAt" + interval \'1 millisecond\' '
     'WHERE id = %(id)s', "rows_changed"),
    ('UPDATE "LedgerEntry" SET "settlementId" = NULL WHERE id = %(id)s', "rows_changed"),
])
def test_tampering_with_reconciled_history_is_found_on_text_ids(new_database, change, problem):
    recon = sge(new_database)
    settle_checkpoint(recon.db)
    assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"
    victim = recon.db.fetch_one('SELECT id, "programId" AS program FROM "LedgerEntry" '
                                'WHERE "settlementId" IS NOT NULL ORDER BY "createdAt" LIMIT 1')
    Database(recon.db.url).execute(change, {"id": victim["id"]})
    result = recon.checks.run(only=["ledger_tamper"], store=False).by_name()["ledger_tamper"]
    assert result.status == "fail"
    assert [(r["program_id"], r["problem"]) for r in result.rows] == [(victim["program"], problem)]
    recon.checks.rebase_checkpoint("test: the change was investigated")
    assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"


def test_an_entry_backdated_beyond_the_lag_is_reported_not_lost(new_database):
    recon = sge(new_database)
    settle_checkpoint(recon.db)
    with psycopg.connect(recon.db.url) as conn:  # breaks the stated bound: 1 h in the past
        entry(conn, a_program(recon), "5.00", ref="backdated",
              at=datetime.now(timezone.utc).replace(tzinfo=None).replace(microsecond=0)
              - timedelta(hours=1))
    result = recon.checks.run(only=["ledger_tamper"], store=False).by_name()["ledger_tamper"]
    assert [r["problem"] for r in result.rows] == ["rows_inserted_below_watermark"]
    full = recon.checks.run(only=["ledger_balance"], store=False).by_name()["ledger_balance"]
    assert full.status == "fail"  # the daily full run sees it in the totals too


def test_switching_profiles_rebuilds_the_checkpoint_in_the_new_order(new_database):
    recon = sge(new_database, beside_contract=True)  # both shapes in one database
    settle_checkpoint(recon.db)
    assert checkpoint.read_checkpoint(recon.db)["watermark"] > 0
    Recon(settings_for(recon.db.url)).init_db()  # back to the contract profile
    cp = checkpoint.read_checkpoint(recon.db)
    assert (cp["ordered_by"], cp["watermark"]) == ("id", 0)
    assert recon.db.fetch_one("SELECT count(*) AS n FROM recon.ledger_checkpoint_totals")["n"] == 0


def test_the_sge_fingerprint_hashes_the_platform_row_not_the_view(new_database):
    """profiles/sge.yml's `fingerprint:` replaces the hash of the contract columns, so that
    ledger_tamper neither joins "Settlement" nor evaluates the view's CASEs to hash a row."""
    recon = sge(new_database)
    tamper = [d for d in recon.checks.catalogue() if d.name == "ledger_tamper"][0]
    keyed = checkpoint.keyed_sql(recon.db.relations.resolve(tamper.sql), recon.db.relations)
    assert "ledger_row_hash" not in keyed and "sum(row_hash__source)" in keyed
    assert "ledger_row_hash" not in checkpoint.keyed_sql(checkpoint._ADD_TOTALS,
                                                         recon.db.relations)
    plan = "\n".join(r["QUERY PLAN"] for r in recon.db.fetch_all(
        "EXPLAIN " + keyed.replace(":watermark", "0")))
    assert '"Settlement"' not in plan  # (exports leave the column out: test_profile_sge.py)


@pytest.mark.slow
def test_every_engine_finds_the_same_tampering_through_the_sge_fingerprint(new_database):
    recon = sge(new_database)
    settle_checkpoint(recon.db)
    recon.db.execute('UPDATE "LedgerEntry" SET counterparty = \'system:fees\' WHERE id = '
                     '(SELECT min(id) FROM "LedgerEntry")')
    found = {engine: recon.checks.run(only=["ledger_tamper"], engine=engine, store=False)
             .by_name()["ledger_tamper"] for engine in ("sql", "gx", "duckdb")}
    assert found["sql"].status == "fail" and found["sql"].rows[0]["problem"] == "rows_changed"
    for engine in ("gx", "duckdb"):
        assert (found[engine].status, found[engine].rows) == \
            (found["sql"].status, found["sql"].rows), engine


def test_a_checkpoint_summed_over_another_fingerprint_is_rebuilt_not_compared(new_database):
    """A checkpoint whose fingerprints hash other columns (an older profile, or sge-recon before
    the profile's fingerprint) would make every program read as tampered: db init, and any
    advance, start it again instead."""
    recon = sge(new_database)
    settle_checkpoint(recon.db)
    recon.db.execute("UPDATE recon.ledger_checkpoint SET fingerprinted_by = 'contract'")
    recon.init_db()
    cp = checkpoint.read_checkpoint(recon.db)
    assert (cp["watermark"], cp["fingerprinted_by"]) == (0, recon.db.relations.row_fingerprint)
    assert cp["fingerprinted_by"].startswith("source:")
    settle_checkpoint(recon.db)
    recon.db.execute("UPDATE recon.ledger_checkpoint SET fingerprinted_by = 'source:older'")
    checkpoint.advance(recon.db)
    assert checkpoint.read_checkpoint(recon.db)["fingerprinted_by"] == \
        recon.db.relations.row_fingerprint
    settle_checkpoint(recon.db)
    assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"


FUSED = ["transaction_balance", "journal_single_program"]


def test_the_fused_journal_pass_equals_the_separate_checks_on_sge(new_database):
    """The full run's one-sort journal checks (checks/fused/journal_pass.sql)
    give exactly what each check gives alone from its own .sql, on SGE's text ids, signed
    amounts and (refType, refId) journals, with an entry of reconciled history changed."""
    recon = sge(new_database, FUSED_LEDGER_PASS="true")
    settle_checkpoint(recon.db)
    program = a_program(recon)
    with psycopg.connect(recon.db.url, autocommit=True) as conn:
        victim = conn.execute('SELECT id FROM "LedgerEntry" ORDER BY "createdAt" LIMIT 1'
                              ).fetchone()[0]
        conn.execute('UPDATE "LedgerEntry" SET amount = amount + 1 WHERE id = %s', (victim,))
        entry(conn, program, "5.5", ref="unbalanced-1")
    fused = recon.checks.run(only=FUSED, store=False).by_name()
    for name in FUSED:
        alone = recon.checks.run(only=[name], store=False).by_name()[name]
        f = fused[name]
        assert (f.details or {}).get("fused") == "journal_pass", name
        assert (f.status, f.failing_rows, f.error) == (alone.status, alone.failing_rows,
                                                       alone.error), name
        assert [list(r.items()) for r in f.rows] == [list(r.items()) for r in alone.rows], name
    assert fused["transaction_balance"].status == "fail"
