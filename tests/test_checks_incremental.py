"""Incremental reconciliation (issue 8): the per-minute ledger checks, read from the checkpoint
plus the new entries, must equal the full checks on any ledger, including entries whose
transactions commit late (a smaller id becoming visible after larger ones)."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from sge_recon.db.relations import CONTRACT_RELATIONS
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sge_recon.context import Recon
from sge_recon.db import ledger_checkpoint as checkpoint

from .checkpoint_support import repeat_until_watermark, settle_checkpoint
from .conftest import settings_for

LEDGER_CHECKS = ["ledger_balance", "transaction_balance"]
PROGRAMS = ["p1", "p2", "p3"]
CURRENCIES = ["USD", "EUR", ""]  # '' is a currency, distinct from NULL
# amounts that make balanced, unbalanced, below-tolerance and exactly-at-tolerance differences
AMOUNTS = [Decimal("1"), Decimal("10.5"), Decimal("0.004"), Decimal("0.01"), Decimal("99.999999")]

_INSERT = ("INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
           "currency) VALUES (%s, %s, %s, %s, %s, %s)")


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE public.ledger_entries RESTART IDENTITY")
        conn.execute("TRUNCATE recon.ledger_checkpoint, recon.ledger_checkpoint_totals, "
                     "recon.ledger_checkpoint_unbalanced")


def _compare(recon: Recon) -> None:
    """One per-minute run (incremental, advances the watermark) against the full checks, with
    nothing committed in between."""
    fast = recon.checks.run(only=LEDGER_CHECKS, fast_only=True, store=False).by_name()
    full = recon.checks.run(only=LEDGER_CHECKS, store=False).by_name()
    for name in LEDGER_CHECKS:
        f, g = fast[name], full[name]
        assert (f.status, f.failing_rows, f.value, f.rows) == (g.status, g.failing_rows, g.value,
                                                              g.rows), name
        assert f.error is None


journal = st.tuples(
    st.sampled_from(PROGRAMS),
    st.one_of(st.integers(0, 30),           # transaction number: reuse touches old transactions
              st.none()),                   # no transaction_id: all such entries are one
    st.lists(st.tuples(st.sampled_from(["debit", "credit"]), st.sampled_from(AMOUNTS),
                       st.sampled_from(CURRENCIES)), min_size=1, max_size=4),
    st.booleans(),                          # add the balancing leg (most journals balance)
)
step = st.one_of(
    st.tuples(st.just("commit"), st.lists(journal, min_size=1, max_size=5)),
    st.tuples(st.just("open_late"), st.lists(journal, min_size=1, max_size=3)),
    st.tuples(st.just("commit_late"), st.none()),
    st.tuples(st.just("check"), st.none()),
)


def _write(conn: psycopg.Connection, journals) -> None:
    for program, number, legs, balance in journals:
        txn = None if number is None else f"t{number}"
        for kind, amount, currency in legs:
            conn.execute(_INSERT, (program, txn, "treasury", kind, amount, currency))
            if balance:
                other = "credit" if kind == "debit" else "debit"
                conn.execute(_INSERT, (program, txn, "user:u", other, amount, currency))


@pytest.fixture(scope="module")
def module_recon(module_db_url) -> Recon:
    with psycopg.connect(module_db_url, autocommit=True) as conn:  # as on a platform without it
        conn.execute("ALTER TABLE public.ledger_entries ALTER COLUMN transaction_id DROP NOT NULL")
    return Recon(settings_for(module_db_url))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=3, max_size=8))
def test_incremental_equals_full_on_random_ledgers(module_db_url, module_recon, steps):
    _reset(module_db_url)
    late: list[psycopg.Connection] = []
    try:
        for kind, payload in steps:
            if kind == "commit":
                with psycopg.connect(module_db_url) as conn:
                    _write(conn, payload)
            elif kind == "open_late":  # ids drawn now, visible only when it commits
                conn = psycopg.connect(module_db_url)
                _write(conn, payload)
                late.append(conn)
            elif kind == "commit_late" and late:
                conn = late.pop(0)
                conn.commit()
                conn.close()
            _compare(module_recon)
        for conn in late:
            conn.commit()
            conn.close()
        late.clear()
        top = module_recon.db.fetch_one("SELECT coalesce(max(id), 0) AS m "
                                        "FROM public.ledger_entries")["m"]
        # candidate, confirm, compare, as many times as other tests' transactions make it take:
        # the watermark reaches the end
        repeat_until_watermark(lambda: _compare(module_recon), module_recon.db,
                               lambda w: w == top)
    finally:
        for conn in late:
            conn.rollback()
            conn.close()


def test_an_open_transaction_of_another_database_does_not_hold_the_watermark(recon, db_url,
                                                                            new_database):
    """Only a session of this database can still write its ledger: one idle in a transaction
    in another database of the cluster (a shared server) is not waited for, while one here is
    (the test below)."""
    with psycopg.connect(db_url) as conn:
        _write(conn, [("p1", 1, [("debit", Decimal("5"), "USD")], True)])  # ids 1, 2
    elsewhere = psycopg.connect(new_database(empty=True))
    try:
        elsewhere.execute("SELECT 1")  # its transaction stays open for the whole test
        assert settle_checkpoint(recon.db).watermark == 2
    finally:
        elsewhere.close()


def test_the_documented_query_names_the_session_that_holds_the_watermark(recon, db_url):
    """docs/metrics.md, under LedgerCheckpointStalled: its query lists the session whose open
    transaction holds the candidate, and only such sessions."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    [query] = re.findall(r"When `LedgerCheckpointStalled` fires.*?```sql\n(.*?)```", text, re.S)
    with psycopg.connect(db_url) as conn:
        _write(conn, [("p1", 1, [("debit", Decimal("5"), "USD")], True)])
    holder = psycopg.connect(db_url)
    try:
        holder.execute("SELECT 1")  # open before the candidate
        checkpoint.advance(recon.db)  # records the candidate
        assert checkpoint.advance(recon.db).note == checkpoint.WAITING_NOTE
        later = psycopg.connect(db_url)
        later.execute("SELECT 1")  # open after it: not a holder
        try:
            named = [r["pid"] for r in recon.db.fetch_all(query.strip().rstrip(";"))]
            assert named == [holder.info.backend_pid]
        finally:
            later.close()
    finally:
        holder.close()
    assert settle_checkpoint(recon.db).watermark == 2


def test_a_late_commit_below_the_watermark_candidate_holds_it_back(recon, db_url):
    """Entries 1-2 drawn by an open transaction, 3-4 committed: the watermark must not pass 0
    until the first transaction ends, and its entries count once it commits."""
    early = psycopg.connect(db_url)
    _write(early, [("p1", 1, [("debit", Decimal("5"), "USD")], False)])  # unbalanced, id 1
    _write(early, [("p1", 2, [("debit", Decimal("7"), "USD")], True)])   # ids 2, 3
    with psycopg.connect(db_url) as conn:
        _write(conn, [("p1", 3, [("credit", Decimal("2"), "USD")], True)])  # ids 4, 5
    for _ in range(3):
        _compare(recon)
        assert checkpoint.read_checkpoint(recon.db)["watermark"] == 0
    early.commit()
    early.close()
    # its transactions have ended: the candidate (5) becomes the watermark
    repeat_until_watermark(lambda: _compare(recon), recon.db, lambda w: w == 5)
    fast = recon.checks.run(fast_only=True, store=False).by_name()
    assert fast["ledger_balance"].rows[0]["difference"] == Decimal("5.000000")
    assert [r["transaction_id"] for r in fast["transaction_balance"].rows] == ["t1"]


def test_a_larger_sequence_cache_keeps_the_watermark_still(recon, db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER SEQUENCE public.ledger_entries_id_seq CACHE 20")
        _write(conn, [("p1", 1, [("debit", Decimal("5"), "USD")], True)])
    report = checkpoint.advance(recon.db)
    assert report.watermark == 0 and "CACHE 1" in report.note
    _compare(recon)  # still exact: the incremental form reads every entry


def test_the_fast_run_reads_only_new_entries(recon, db_url):
    with psycopg.connect(db_url) as conn:
        _write(conn, [("p1", n, [("debit", Decimal("3"), "USD")], True) for n in range(50)])
    settle_checkpoint(recon.db)
    assert checkpoint.read_checkpoint(recon.db)["watermark"] == 100
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # planner choice aside: the watermark is bound
        plan = conn.execute(
            "EXPLAIN (FORMAT JSON) " + CONTRACT_RELATIONS.resolve(
                checkpoint.INCREMENTAL_LEDGER_BALANCE).replace(
                ":watermark", "100").replace(":ledger_tolerance", "0.01")).fetchone()[0]
    assert "ledger_entries_pkey" in str(plan)


def test_a_difference_beyond_numeric_38_6_is_checkpointed_exactly(recon, factory):
    """Two legs near the ledger column's maximum make a difference of 33 integer digits: the
    checkpoint stores it exactly and the per-minute run equals the full run."""

    big = Decimal("99999999999999999999999999999999.999999")  # numeric(38,6)'s maximum
    factory.program(id="prog_big")
    txn = factory.journal("prog_big", [("treasury", "debit", big), ("treasury", "debit", big)])
    assert settle_checkpoint(recon.db).watermark > 0
    stored = recon.db.fetch_one("SELECT difference FROM recon.ledger_checkpoint_unbalanced "
                                "WHERE transaction_id = %s", (txn,))
    twice = Decimal("199999999999999999999999999999999.999998")  # exact (not 2 * big: Python's
    assert stored["difference"] == twice                         # context rounds to 28 digits)
    fast = recon.checks.run(fast_only=True, store=False).by_name()["transaction_balance"]
    full = recon.checks.run(only=["transaction_balance"], store=False).by_name()[
        "transaction_balance"]
    assert fast.status == full.status == "fail" and fast.rows == full.rows
    assert fast.rows[0]["difference"] == twice
