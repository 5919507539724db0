"""Reading SGE through its profile as fast as the platform's own indexes allow (issue 13, item 8):
the ledger ordered by its cuid ids and journals looked up by (refType, refId) for the per-minute
checks, status predicates rewritten onto the platform's enum labels. Each is exact (same rows as
the plain form) and checked by db init against the rows, its errors naming the profile line."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.db import ledger_checkpoint as checkpoint
from sge_recon.db.status_predicates import rewrite
from sge_recon.errors import ProfileError
from sge_recon.profiles import load_profile, relations_for
from sge_recon.profiles.model import profile_path

from .conftest import settings_for
from .platform_helpers import sge_through_profile

SGE_YML = profile_path("sge").read_text(encoding="utf-8")
LABELS = (("settlement_intents", "status", (("payment_pending", ("PENDING",)),
                                            ("processing", ("PROCESSING",)),
                                            ("completed", ("CONFIRMED",)),
                                            ("failed", ("FAILED", "EXPIRED")))),
          ("payout_batches", "status", (("executed", ("COMPLETED",)),
                                        ("rejected", ("CANCELLED",)))))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def sge(new_database) -> Recon:
    return sge_through_profile(new_database(empty=True), intents=300, seed=5)


# -- the profile's declarations -----------------------------------------------------------------
def test_the_sge_profile_declares_cuid_order_and_the_journal_key():
    ledger = load_profile("sge").tables["ledger_entries"]
    assert (ledger.order, ledger.journal_key) == ("cuid", ("ref_type", "ref_id"))
    relations = relations_for(settings_for("postgresql://x@/y", PLATFORM_PROFILE="sge"))
    assert relations.ledger_order == "cuid" and relations.journal_key == ("ref_type", "ref_id")
    assert ("settlement_intents", "status", (("payment_pending", ("PENDING",)),
                                             ("processing", ("PROCESSING",)),
                                             ("completed", ("CONFIRMED",)),
                                             ("failed", ("FAILED", "EXPIRED")))) \
        in relations.status_labels


@pytest.mark.parametrize("edit, needle, expected", [
    (lambda t: t.replace("order: cuid", "order: ulid"), "order: ulid",
     "tables.ledger_entries.order: unknown order 'ulid'; use created_at or cuid"),
    (lambda t: t.replace("journal_key: [ref_type, ref_id]", "journal_key: [ref_type, refid]"),
     "journal_key:", "refid is not one of its columns"),
    (lambda t: t.replace("journal_key: [ref_type, ref_id]", "journal_key: ref_type"),
     "journal_key:", "must be a non-empty list"),
    (lambda t: t.replace("journal_key: [ref_type, ref_id]", "journal_key: [transaction_id]"),
     "journal_key:", "not transaction_id"),
    (lambda t: t.replace("    from: '\"Program\" p'\n", "    from: '\"Program\" p'\n    order: cuid\n"),
     "order: cuid", "tables.programs: unknown key 'order'"),
])
def test_order_and_journal_key_errors_name_the_line(tmp_path, edit, needle, expected):
    text = edit(SGE_YML)
    with pytest.raises(ProfileError) as caught:
        load_profile(str(write(tmp_path, text)))
    assert expected in caught.value.message
    assert f"line {line_of(text, needle)}:" in caught.value.message


def test_db_init_refuses_cuid_order_over_ids_that_are_not_cuids(sge, tmp_path):
    db = Database(sge.db.url)
    db.execute("""INSERT INTO "LedgerEntry" (id, "programId", account, counterparty, amount,
        "refType", "refId") SELECT 'entry-17', id, 'system:fees', 'system:suspense', 1,
        'ADJUSTMENT', 'x' FROM "Program" LIMIT 1""")
    try:
        recon = Recon(settings_for(sge.db.url, PLATFORM_PROFILE=str(write(tmp_path, SGE_YML))))
        with pytest.raises(ProfileError) as caught:
            recon.init_db()
    finally:
        db.execute("""DELETE FROM "LedgerEntry" WHERE id = 'entry-17'""")
    message = caught.value.message
    assert f"line {line_of(SGE_YML, 'order: cuid')}: tables.ledger_entries.order" in message
    assert "'entry-17' is not a cuid" in message and "order: created_at" in message


def test_db_init_refuses_a_journal_key_that_is_not_one_to_one(sge, tmp_path):
    text = SGE_YML.replace("journal_key: [ref_type, ref_id]", "journal_key: [ref_type]")
    recon = Recon(settings_for(sge.db.url, PLATFORM_PROFILE=str(write(tmp_path, text))))
    with pytest.raises(ProfileError) as caught:
        recon.init_db()
    message = caught.value.message
    assert f"line {line_of(text, 'journal_key:')}: tables.ledger_entries.journal_key" in message
    assert "does not identify transaction_id one to one" in message
    sge.init_db()  # the shipped profile again, for the other tests of the module


# -- the per-minute statements on the platform's own indexes ------------------------------------
def test_new_entries_and_touched_journals_are_found_through_the_platforms_indexes(sge):
    """With sequential scans priced out, the plan shows which indexes CAN serve each statement:
    the primary key for the range above the watermark, ("refType", "refId") for the journals."""
    relations = sge.db.relations
    now_us = int(time.time() * 1_000_000)  # a minute's entries above it, as in the real run
    text = checkpoint.keyed_sql(relations.resolve(checkpoint.INCREMENTAL_TRANSACTION_BALANCE
                                                  .replace(":watermark", "%(w)s")), relations)
    with psycopg.connect(sge.db.url, row_factory=dict_row) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + text, {"w": now_us}))
    assert '"LedgerEntry_pkey"' in plan and '"LedgerEntry_refType_refId_idx"' in plan
    # The one scan no index serves: the entries without a transaction_id (one transaction, which
    # no journal key matches), read only when a new entry has none (never, here)
    scans = [line for line in plan.splitlines() if 'Seq Scan on "LedgerEntry"' in line]
    assert all("(never executed)" in line for line in scans), plan


def test_the_cuid_floor_splits_ids_exactly_at_the_watermarks_millisecond(sge):
    rows = sge.db.fetch_all(
        "SELECT recon.ledger_cuid_floor(0) AS zero, recon.ledger_cuid_floor(1000) AS one_ms, "
        "recon.ledger_cuid_floor(1999) AS still_one, recon.ledger_cuid_floor(2000) AS two_ms")
    assert rows == [{"zero": "", "one_ms": "c00000002", "still_one": "c00000002",
                     "two_ms": "c00000003"}]
    # 2010-01-01: every id that starts 'c' + a hex digit (a UUID) or an upper-case letter is below
    assert sge.db.fetch_one("SELECT recon.ledger_cuid_floor(1262304000000000) AS f")["f"] == \
        "cg3w77k01"
    # an id stamped in ms 1 is at or below a watermark of 1000 us (ms 1) and above 999
    assert sge.db.fetch_one("SELECT 'c00000001aaaabbbbccccdddd' < recon.ledger_cuid_floor(1000) "
                            "AND 'c00000001aaaabbbbccccdddd' >= recon.ledger_cuid_floor(999) "
                            "AS ok")["ok"]


# -- status predicates on the platform's labels -------------------------------------------------
@pytest.mark.parametrize("sql, expected", [
    ("SELECT 1 FROM platform.settlement_intents i WHERE i.status = 'completed'",
     '(i."status__is_completed")'),
    ("SELECT id FROM platform.settlement_intents WHERE status IN ('payment_pending', 'verifying')",
     '("status__is_payment_pending")'),
    ("SELECT 1 FROM platform.settlement_intents AS i WHERE i.status NOT IN ('failed', 'created')",
     '(NOT (i."status__is_failed"))'),
    ("SELECT 1 FROM platform.payout_batches b WHERE b.status <> 'executed'",
     '(NOT (b."status__is_executed"))'),
    # a FROM or JOIN in a comment or a string literal is no second relation
    ("-- the console reads these rows, not from its own SQL; JOIN nothing\n"
     "SELECT 'from x join y' AS note, id FROM platform.settlement_intents /* from z */ "
     "WHERE status IN ('processing')", '("status__is_processing")'),
])
def test_status_predicates_are_rewritten_onto_the_labels(sql, expected):
    assert expected in rewrite(sql, LABELS)


def test_the_stuck_intents_check_reads_the_intents_status_index():
    """Its comment says "from these rows": the bare status must still be read as the one
    relation's (it regressed to a sequential scan of "Intent" once: 0.25 s instead of ms)."""
    text = (Path(__file__).parents[1] / "checks" / "stuck_intents.sql").read_text()
    assert '("status__is_payment_pending" OR "status__is_processing")' in rewrite(text, LABELS)


@pytest.mark.parametrize("sql", [
    # no label maps to the value: the CASE answers it
    "SELECT 1 FROM platform.settlement_intents i WHERE i.status = 'verifying'",
    # another relation's status, by alias or bare in a statement that reads two relations
    "SELECT 1 FROM platform.settlement_intents i JOIN recon.check_results r ON true "
    "WHERE r.status = 'completed'",
    "SELECT 1 FROM platform.settlement_intents i, recon.check_results WHERE status = 'completed'",
    "SELECT 1 FROM platform.settlement_intents WHERE id IN (SELECT intent_id FROM recon.x "
    "WHERE status = 'completed')",
    # a status the profile does not map
    "SELECT 1 FROM platform.commissions c WHERE c.status = 'paid'",
    # a parameter, not a literal
    "SELECT 1 FROM platform.settlement_intents i WHERE i.status = %(s)s",
    # the alias also names a subquery (checks/fused/journal_pass.sql: `) AS e` beside
    # `platform.ledger_entries e`) or another relation: not certainly the platform's
    "SELECT 1 FROM platform.settlement_intents i JOIN (SELECT 1 AS status) i2 ON true "
    "WHERE i.status = 'completed' AND EXISTS (SELECT 1 FROM (SELECT 'x' AS status) AS i "
    "WHERE i.status = 'completed')",
    "SELECT 1 FROM platform.settlement_intents i WHERE i.status = 'completed' AND EXISTS "
    "(SELECT 1 FROM recon.intent_notes i WHERE i.status = 'completed')",
])
def test_what_is_not_certainly_a_mapped_status_is_left_alone(sql):
    assert rewrite(sql, LABELS) == sql


def test_rewritten_predicates_give_the_rows_of_the_case_even_for_a_label_added_later(sge):
    """Exactness, NULL-free and with a platform label that appeared after db init (it reads as
    unmapped:<label>, matches no contract value, and is counted by NOT IN as by the CASE)."""
    with psycopg.connect(sge.db.url, autocommit=True) as conn:
        conn.execute("""ALTER TYPE "IntentStatus" ADD VALUE IF NOT EXISTS 'ON_HOLD'""")
        conn.execute("""UPDATE "Intent" SET status = 'ON_HOLD'
                        WHERE id = (SELECT min(id) FROM "Intent" WHERE status = 'CONFIRMED')""")
    predicates = ["status = 'completed'", "status IN ('payment_pending', 'verifying')",
                  "status NOT IN ('completed', 'failed')", "status <> 'processing'",
                  "i.status = 'failed'", "i.status NOT IN ('created', 'completed')"]
    for predicate in predicates:
        query = f"SELECT count(*) AS n FROM platform.settlement_intents i WHERE {predicate}"
        resolved = sge.db.relations.resolve(query)
        assert "__is_" in resolved, predicate
        plain = query.replace("platform.", "recon_platform.")  # the CASE, as written
        with psycopg.connect(sge.db.url, row_factory=dict_row) as conn:
            expected = conn.execute(plain).fetchone()["n"]
        assert sge.db.fetch_one(query)["n"] == expected, predicate
    assert sge.db.fetch_one("SELECT count(*) AS n FROM platform.settlement_intents "
                            "WHERE status = 'unmapped:ON_HOLD'")["n"] == 1


def test_the_new_entries_bound_is_an_index_range_and_the_history_bound_is_computed_once():
    """Above the watermark: the cuid prefix of a query parameter, folded at planning (the primary
    key's range). At or below (reconciled history, nearly the whole ledger): kept off the index
    and computed once per statement, not once per row."""
    from sge_recon.db.ledger_order import keyed_sql
    from sge_recon.db.relations import PlatformRelations

    cuid = PlatformRelations(profile="x", schema="recon_platform", ledger_order="cuid")
    # ids below the cuid prefix of 2010 ('cg…': UUIDs, upper-case ids) are no cuids: new in
    # every run (a second range of the primary key), never history
    assert keyed_sql("SELECT 1 FROM t WHERE id > %(low)s AND id <= %(high)s", cuid) == (
        "SELECT 1 FROM t WHERE (id >= recon.ledger_cuid_floor(%(low)s) "
        "OR id < recon.ledger_cuid_floor(1262304000000000)) "
        "AND (id >= recon.ledger_cuid_floor(1262304000000000) "
        "AND (id || '') < (SELECT recon.ledger_cuid_floor(%(high)s)))")
    assert "(id || '') < (SELECT recon.ledger_cuid_floor((SELECT watermark FROM checkpoint)))" \
        in keyed_sql("count(*) FILTER (WHERE id <= (SELECT watermark FROM checkpoint))", cuid)


def test_the_history_bound_is_estimated_as_most_of_the_ledger_not_half_a_percent(sge):
    """Reconciled history is nearly every entry. Both bounds on the expression `id || ''` read as
    a range the planner guesses at 0.5 % of the rows, so ledger_tamper grouped 2 M entries by
    sorting them on disk (1.9 s) instead of hashing them (1.0 s). The lower bound on the plain id
    is read from the column's statistics."""
    relations = sge.db.relations
    text = checkpoint.keyed_sql(relations.resolve(
        "SELECT count(*) FROM platform.ledger_entries WHERE id <= %(w)s"), relations)
    with psycopg.connect(sge.db.url, row_factory=dict_row, autocommit=True) as conn:
        conn.execute('ANALYZE "LedgerEntry"')
        entries = conn.execute('SELECT count(*) AS n FROM "LedgerEntry"').fetchone()["n"]
        plan = conn.execute("EXPLAIN (FORMAT JSON) " + text,
                            {"w": int(time.time() * 1_000_000)}).fetchone()["QUERY PLAN"]

    def scans(node):
        if node.get("Relation Name") == "LedgerEntry":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    [scan] = list(scans(plan[0]["Plan"]))
    assert scan["Node Type"] == "Seq Scan", scan  # history is read whole, not through the index
    assert entries > 1000 and scan["Plan Rows"] >= entries * 0.2, (scan["Plan Rows"], entries)


def test_the_ledgers_type_is_tested_on_the_platforms_signed_amount(sge):
    """sge.yml maps type from `e.amount >= 0`: `type = 'credit'` is planned as `amount < 0`,
    which PostgreSQL estimates from the column's statistics (a CASE it guessed at 0.5 % of the
    entries), and the rows are those of the CASE."""
    relations = sge.db.relations
    for predicate, platform in (("e.type = 'credit'", "(amount < '0'::numeric)"),
                                ("e.type = 'debit'", "(amount >= '0'::numeric)")):
        query = f"SELECT count(*) AS n FROM platform.ledger_entries e WHERE {predicate}"
        resolved = relations.resolve(query)
        with psycopg.connect(sge.db.url, row_factory=dict_row) as conn:
            plan = "\n".join(r["QUERY PLAN"] for r in conn.execute("EXPLAIN " + resolved))
            expected = conn.execute(query.replace("platform.", "recon_platform.")).fetchone()["n"]
            signed = conn.execute('SELECT count(*) FILTER (WHERE amount < 0) AS credits, '
                                  'count(*) FILTER (WHERE amount >= 0) AS debits '
                                  'FROM "LedgerEntry"').fetchone()
        assert f"Filter: {platform}" in plan and "CASE" not in plan, plan
        assert sge.db.fetch_one(query)["n"] == expected == \
            signed["credits" if "credit" in predicate else "debits"] > 0
