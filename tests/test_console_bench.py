"""Issue 18.4: the console bench covers every page, and the queries made fast for it give the
answers of the scans they replace (real PostgreSQL)."""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from recon_bench.console_pages import PAGE_LOADS, bench_page_data
from sge_recon.db import payouts
from sge_recon.db import webhooks as webhook_rows
from sge_recon.db.rows import all_rows

from .factories import ago
from .checkpoint_support import settle_checkpoint

APP = Path(__file__).resolve().parent.parent / "app"
sys.path.insert(0, str(APP))
import console_kit as kit  # noqa: E402


def test_the_bench_times_every_page_of_the_console():
    """A new page (app/views/*.py, in the navigation) cannot be left out of console-bench: its
    data build (recon_bench.console_pages) and its render (app/bench_render.py renders
    console_kit.PAGES) are both listed from the pages the console has."""
    views = {p.stem for p in (APP / "views").glob("*.py") if p.stem != "__init__"}
    in_navigation = {Path(path).stem for path, _title, _icon in kit.PAGES.values()}
    assert in_navigation == views, "every page file is in the navigation, and only those"
    assert set(kit.PAGES) == set(PAGE_LOADS), "recon_bench/console_pages.py lists every page"
    assert "kit.PAGES" in (APP / "bench_render.py").read_text()


def test_every_page_builds_its_data_through_the_library(recon, factory):
    program = factory.program()
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="processing", status_changed_at=ago(minutes=40))
    factory.journal(program["id"], [("treasury", "debit", "10.00"), ("user:x", "credit", "9.99")])
    recon.checks.run(trigger="test")
    built = bench_page_data(recon, repeat=2)
    assert [b.page for b in built] == list(PAGE_LOADS)
    for b in built:
        assert not b.errors, (b.page, b.errors)
        assert len(b.runs_ms) == 2 and b.cold_ms > 0 and b.warm_ms > 0


def _scanned_balances(recon) -> list[dict]:
    """What the Ledger page showed before: one GROUP BY over the whole ledger."""
    rows = recon.console.read_platform(lambda c: all_rows(c, """
        SELECT l.program_id, l.currency,
               coalesce(sum(l.amount) FILTER (WHERE l.type = 'debit'), 0) AS total_debits,
               coalesce(sum(l.amount) FILTER (WHERE l.type = 'credit'), 0) AS total_credits,
               sum(CASE WHEN l.type = 'debit' THEN l.amount ELSE -l.amount END) AS difference,
               count(*) AS entries
        FROM platform.ledger_entries l GROUP BY 1, 2 ORDER BY 1, 2"""))
    return rows


def _shown(recon) -> list[dict]:
    return [{k: r[k] for k in ("program_id", "currency", "total_debits", "total_credits",
                               "difference", "entries")} for r in recon.console.ledger_balances()]


def test_ledger_balances_are_the_checkpoint_plus_the_new_entries(recon, factory):
    p1, p2 = factory.program(name="One"), factory.program()
    factory.journal(p1["id"], [("treasury", "debit", "10.00"), ("user:a", "credit", "10.00")])
    factory.journal(p1["id"], [("treasury", "debit", "5.25"), ("user:b", "credit", "5.00")],
                    currency="EUR")
    factory.journal(p2["id"], [("treasury", "debit", "0.000001")])  # a debit only
    assert _shown(recon) == _scanned_balances(recon)  # no checkpoint yet: every entry read
    assert settle_checkpoint(recon.db).watermark > 0
    assert _shown(recon) == _scanned_balances(recon)  # all from the checkpoint's totals
    factory.journal(p2["id"], [("user:c", "credit", "7.50")], currency="EUR")  # above it
    factory.journal(p1["id"], [("treasury", "debit", "1.00")])
    shown = recon.console.ledger_balances()
    assert [{k: r[k] for k in r if k != "program_name"} for r in shown] == \
        _scanned_balances(recon)
    assert {r["program_id"]: r["program_name"] for r in shown}[p1["id"]] == "One"
    usd = next(r for r in shown if r["program_id"] == p1["id"] and r["currency"] == "USD")
    assert usd["difference"] == Decimal("1.00") and usd["entries"] == 3


def test_ledger_balances_ignore_a_checkpoint_counted_in_another_order(recon, factory, db):
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "3.00"), ("user:a", "credit", "3.00")])
    assert settle_checkpoint(recon.db).watermark > 0
    db.execute("UPDATE recon.ledger_checkpoint SET ordered_by = 'created_at'")
    db.execute("UPDATE recon.ledger_checkpoint_totals SET total_debits = 999")  # not used
    assert _shown(recon) == _scanned_balances(recon)


def test_endpoint_last_success_uses_the_attempt_time_or_the_creation(recon, factory):
    program = factory.program()
    streak, fresh, never = (factory.endpoint(program["id"]) for _ in range(3))
    factory.delivery(streak["id"], last_attempt_at=ago(hours=3), created_at=ago(hours=4))
    factory.delivery(streak["id"], last_attempt_at=ago(hours=2), created_at=ago(hours=5))
    for minutes in range(5):  # a failing streak after the last success
        factory.delivery(streak["id"], status="failed", last_attempt_at=ago(minutes=minutes))
    factory.delivery(fresh["id"], last_attempt_at=ago(hours=6))
    factory.delivery(fresh["id"], last_attempt_at=None, created_at=ago(hours=1))  # newer
    factory.delivery(never["id"], status="failed", last_attempt_at=ago(minutes=1))
    shown = {r["endpoint_id"]: r["last_success_at"]
             for r in recon.console.read_platform(webhook_rows.endpoints)}
    scanned = {r["id"]: r["at"] for r in recon.console.read_platform(lambda c: all_rows(c, """
        SELECT e.id, (SELECT max(coalesce(ok.last_attempt_at, ok.created_at))
                      FROM platform.webhook_deliveries ok
                      WHERE ok.endpoint_id = e.id AND ok.status = 'delivered') AS at
        FROM platform.webhook_endpoints e"""))}
    assert shown == scanned
    assert shown[never["id"]] is None
    assert abs(shown[fresh["id"]] - ago(hours=1)) < timedelta(minutes=1)
    assert abs(shown[streak["id"]] - ago(hours=2)) < timedelta(minutes=1)


def test_a_batch_is_shown_in_its_commissions_currency(recon, factory):
    program = factory.program(currency="USD")
    user = factory.user(program["id"])
    affiliate = factory.affiliate(program["id"])
    eur = factory.intent(program["id"], user["id"], currency="EUR")
    paid = factory.payout_batch(program["id"], status="executed", executed_at=ago(hours=1))
    open_ = factory.payout_batch(program["id"])
    empty = factory.payout_batch(program["id"], status="executed", executed_at=ago(hours=2))
    for batch in (paid, open_):
        for _ in range(3):
            factory.commission(program["id"], affiliate["id"], eur["id"],
                               payout_batch_id=batch["id"])
    recent = {r["batch_id"]: r["currency"]
              for r in recon.console.read_platform(lambda c: payouts.recent_payout_batches(c, 50))}
    assert recent == {paid["id"]: "EUR", empty["id"]: "USD"}  # no commission: the program's
    assert [r["currency"] for r in recon.console.open_payout_batches()] == ["EUR"]


def _scanned_unbalanced(recon, program: str, currency: str) -> list[dict]:
    """What the Ledger page listed before: a scan of the pair's entries."""
    return recon.console.read_platform(lambda c: all_rows(c, """
        SELECT transaction_id, min(created_at) AS created_at, count(*) AS entries,
               sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS difference
        FROM platform.ledger_entries WHERE program_id = %s AND currency = %s
        GROUP BY transaction_id
        HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0
        ORDER BY min(created_at) DESC""", (program, currency)))


def _same_offenders(recon, pairs) -> None:
    for program, currency in pairs:
        shown = recon.console.unbalanced_transactions(program, currency)
        assert sorted(shown, key=lambda r: r["transaction_id"]) == sorted(
            _scanned_unbalanced(recon, program, currency), key=lambda r: r["transaction_id"]), \
            (program, currency)


def test_offending_transactions_come_from_the_checkpoint_and_the_new_entries(recon, factory):
    p, q = factory.program()["id"], factory.program()["id"]
    pairs = [(p, "USD"), (p, "EUR"), (q, "USD"), (q, "EUR")]
    factory.journal(p, [("treasury", "debit", "10.00"), ("user:a", "credit", "10.00")])
    short = factory.journal(p, [("treasury", "debit", "10.00"), ("user:a", "credit", "9.99")])
    factory.journal(q, [("treasury", "debit", "5.00")], currency="EUR")
    mixed = factory.journal(p, [("treasury", "debit", "1.00")], currency="USD")
    factory.journal(p, [("user:b", "credit", "1.00")], currency="EUR", transaction_id=mixed)
    late = factory.journal(q, [("treasury", "debit", "2.00"), ("user:c", "credit", "2.00")])
    _same_offenders(recon, pairs)  # no checkpoint yet: every entry of the pair is a candidate
    assert settle_checkpoint(recon.db).watermark > 0
    _same_offenders(recon, pairs)
    assert {r["transaction_id"] for r in recon.console.unbalanced_transactions(p, "USD")} == \
        {short, mixed}
    # above the watermark: a late leg unbalances a checkpointed transaction, another fixes one
    factory.journal(q, [("user:c", "credit", "0.50")], transaction_id=late)
    factory.journal(p, [("user:a", "credit", "0.01")], transaction_id=short)
    factory.journal(q, [("treasury", "debit", "3.00")], currency="EUR")
    _same_offenders(recon, pairs)
    assert [r["transaction_id"] for r in recon.console.unbalanced_transactions(q, "USD")] == \
        [late]
    assert settle_checkpoint(recon.db).watermark > 0
    _same_offenders(recon, pairs)
