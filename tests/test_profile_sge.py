"""The `sge` profile (DESIGN §11) on a database shaped like the real SGE platform.

The database is built by the SGE stand-in (refplatform/sql/sge/, Prisma names, enum types, signed ledger,
timestamp(3) without time zone) in a database created from template0: no contract table exists,
so every check, page, alert, metric and export must read through the profile. Every fault the
SGE data can express is planted and must be found with exactly the planted rows; the checks whose
data SGE does not have are `unavailable`, never a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlparse

import psycopg
import pytest

from refplatform.sge_platform import FAULT_CHECKS, SGE_FAULTS, create_sge_schema, load_sge_platform
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.metrics.collector import core_gauges
from sge_recon.metrics.facts import SIGNAL_CHECKS, gather_facts

from .conftest import settings_for

UNAVAILABLE = {"webhook_retries", "webhook_exhausted", "webhook_endpoints_failing",
               "worker_status", "queue_paused", "queue_depth", "settlement_chain_match"}
AVAILABLE = {"ledger_balance", "transaction_balance", "ledger_tamper", "stuck_intents",
             "payout_batch_sla", "processing_time", "affiliate_tree", "commission_accuracy",
             "commission_ledger", "platform_data_integrity", "journal_single_program",
             "intent_completion", "commission_duplicates", "payout_batch_total",
             "payout_line_items", "payout_approval_quorum"}


def sge_database(new_database, *, faults=(), intents=600, seed=7) -> tuple[str, object]:
    url = new_database(empty=True)
    db = Database(url)
    create_sge_schema(db)
    # as of the moment the data is built (the module may run minutes after it is imported)
    as_of = datetime.now(timezone.utc).replace(microsecond=0)
    report = load_sge_platform(db, intents=intents, seed=seed, as_of=as_of, faults=faults)
    return url, report


def sge_recon(url: str, **overrides) -> Recon:
    # no PAYOUT_APPROVALS_REQUIRED override: the profile's payout_approvals are SGE's two people
    # (the creator and the approver), so the contract's quorum of two holds as it is
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge", **overrides))
    recon.init_db()
    return recon


@pytest.fixture(scope="module")
def faulty(new_database):
    url, report = sge_database(new_database, faults=list(SGE_FAULTS))
    recon = sge_recon(url)
    run = recon.checks.run(trigger="test")
    return recon, report, run


@pytest.fixture(scope="module")
def clean(new_database):
    url, report = sge_database(new_database)
    recon = sge_recon(url)
    return recon, report, recon.checks.run(trigger="test")


def rows_of(run, name):
    return run.by_name()[name].rows


def test_every_planted_fault_is_in_the_fault_catalogue_of_a_check():
    assert set(FAULT_CHECKS) == set(SGE_FAULTS)
    assert set(FAULT_CHECKS.values()) <= AVAILABLE


def test_clean_sge_data_passes_every_check_that_has_data(clean):
    _, report, run = clean
    assert report.ledger_entries > 1000
    results = run.by_name()
    assert {n for n, r in results.items() if r.status == "pass"} == AVAILABLE, \
        {n: (r.status, r.rows[:2], r.error) for n, r in results.items() if n in AVAILABLE}
    assert run.status == "pass"


def test_data_less_checks_are_unavailable_with_the_profiles_reason(clean):
    _, _, run = clean
    results = run.by_name()
    assert {n for n, r in results.items() if r.status == "unavailable"} == UNAVAILABLE
    assert "no outbound webhooks" in results["webhook_retries"].reason
    assert "BullMQ" in results["queue_depth"].reason
    assert "(profile sge)" in results["settlement_chain_match"].reason
    as_json = results["worker_status"].to_json()
    assert as_json["status"] == "unavailable" and as_json["reason"]
    assert as_json["failing_rows"] is None and as_json["rows"] == []


def test_ledger_imbalance_found_with_the_planted_program_and_difference(faulty):
    _, report, run = faulty
    [(program, currency, difference)] = report.faults["ledger_imbalance"]
    found = [(r["program_id"], r["currency"], r["difference"])
             for r in rows_of(run, "ledger_balance")]
    assert found == [(program, currency, difference)]
    row = rows_of(run, "ledger_balance")[0]
    assert row["total_debits"] - row["total_credits"] == difference


def test_unbalanced_journals_found_by_reftype_and_refid(faulty):
    _, report, run = faulty
    expected = set(report.faults["unbalanced_transaction"]) | set(
        report.side_effects.get("ledger_imbalance", {}).get("unbalanced_transaction", []))
    found = {r["transaction_id"] for r in rows_of(run, "transaction_balance")}
    assert found == expected and len(expected) >= 3


def test_stuck_intents_read_from_updated_at(faulty):
    _, report, run = faulty
    found = {r["intent_id"] for r in rows_of(run, "stuck_intents")}
    assert found == set(report.faults["stuck_intents"])
    result = run.by_name()["stuck_intents"]
    assert result.status == "fail"  # PROCESSING for 40 min: past INTENT_STUCK_FAIL_MINUTES
    statuses = {r["status"] for r in result.rows}
    assert statuses == {"processing", "payment_pending"}


def test_payout_sla_on_mapped_batch_statuses(faulty):
    _, report, run = faulty
    found = {r["batch_id"] for r in rows_of(run, "payout_batch_sla")}
    assert found == set(report.faults["payout_sla"])
    assert {r["status"] for r in rows_of(run, "payout_batch_sla")} == {"pending_approval",
                                                                        "approved"}


def test_affiliate_tree_finds_the_cycle_and_the_cross_program_parent(faulty):
    _, report, run = faulty
    rows = rows_of(run, "affiliate_tree")
    assert {r["affiliate_id"] for r in rows if r["problem"] == "cycle"} == \
        set(report.faults["affiliate_cycle"])
    assert {r["affiliate_id"] for r in rows if r["problem"] == "cross_program"} == \
        set(report.faults["affiliate_cross_program"])
    assert not [r for r in rows if r["problem"] == "orphan"]  # the FK makes orphans impossible


def test_commission_accuracy_on_percent_rates_and_override_levels(faulty):
    _, report, run = faulty
    rows = rows_of(run, "commission_accuracy")
    assert {r["commission_id"] for r in rows if r["problem"] == "rate"} == \
        set(report.faults["commission_rate"])
    assert {r["commission_id"] for r in rows if r["problem"] == "amount"} == \
        set(report.faults["commission_amount"])
    for row in rows:  # rates in the contract's fractions (0.10), not percent (10.00)
        if row["problem"] == "rate":
            assert row["actual"] < 1 and row["expected"] < 1


def test_commission_ledger_reads_the_affiliates_liability_account(faulty):
    _, report, run = faulty
    found = {r["affiliate_id"] for r in rows_of(run, "commission_ledger")}
    assert found == set(report.faults["commission_ledger_drift"])


def test_slow_processing_is_measured_from_the_platforms_timestamps(faulty):
    _, report, run = faulty
    result = run.by_name()["processing_time"]
    [mean] = report.faults["slow_processing"]
    assert result.status == "fail"
    assert abs(result.value - mean) < Decimal("0.01")


def test_the_per_minute_run_reads_the_whole_ledger_on_text_ids(faulty):
    recon, report, _ = faulty
    run = recon.checks.run(fast_only=True, store=False)
    results = run.by_name()
    assert not [c.name for c in run.checks if c.status == "error"], \
        {c.name: c.error for c in run.checks}
    [(program, _, difference)] = report.faults["ledger_imbalance"]
    assert [(r["program_id"], r["difference"]) for r in results["ledger_balance"].rows] == \
        [(program, difference)]
    assert results["transaction_balance"].status == "fail"


def test_the_run_fails_on_data_and_unavailable_changes_nothing(faulty):
    _, _, run = faulty
    assert run.status == "fail" and run.exit_code() == 2
    assert {c.name for c in run.checks if c.status == "unavailable"} == UNAVAILABLE


def test_naive_utc_timestamps_read_the_same_whatever_the_timezone(new_database):
    url, report = sge_database(new_database, faults=["stuck_intents", "payout_sla"])
    recon = sge_recon(url)
    before = recon.checks.run(only=["stuck_intents", "payout_batch_sla"], store=False)
    dbname = urlparse(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {dbname} SET timezone TO 'Pacific/Chatham'")  # +13:45
    after = recon.checks.run(only=["stuck_intents", "payout_batch_sla"], store=False)
    for name in ("stuck_intents", "payout_batch_sla"):
        a, b = before.by_name()[name], after.by_name()[name]
        assert (a.status, a.failing_rows) == (b.status, b.failing_rows)
    ages = {r["intent_id"]: r["stuck_seconds"] for r in before.by_name()["stuck_intents"].rows}
    for row in after.by_name()["stuck_intents"].rows:
        assert abs(row["stuck_seconds"] - ages[row["intent_id"]]) < 120
    assert all(20 * 60 - 120 < s < 45 * 60 for s in ages.values())


def test_db_init_never_creates_or_alters_a_platform_table(new_database):
    url, _ = sge_database(new_database)
    snapshot = ("SELECT c.relname, c.relkind, count(a.attnum) AS columns "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                "WHERE n.nspname = 'public' GROUP BY 1, 2 ORDER BY 1")
    before = Database(url).fetch_all(snapshot)
    report = sge_recon(url).init_db()  # twice: idempotent
    assert Database(url).fetch_all(snapshot) == before
    assert "ledger_entries" not in {r["relname"] for r in before}
    assert set(report.absent) == {"chain_transactions", "webhook_endpoints", "webhook_deliveries",
                                  "worker_heartbeats", "jobs", "queue_control", "rpc_calls"}


def test_cli_init_and_check_on_sge(new_database, tmp_path):
    url, report = sge_database(new_database, faults=["ledger_imbalance"])
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "PLATFORM_PROFILE": "sge",
           "SGE_RECON_HOME": str(tmp_path / "home")}
    init = subprocess.run([sys.executable, "-m", "sge_recon", "db", "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert "Profile sge: 10 contract tables mapped" in init.stdout
    assert "webhook_deliveries: absent (the SGE platform sends no outbound webhooks)" in init.stdout
    check = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 2, check.stderr
    out = json.loads(check.stdout)
    by_name = {c["name"]: c for c in out["checks"]}
    assert by_name["ledger_balance"]["status"] == "fail"
    [(program, _, difference)] = report.faults["ledger_imbalance"]
    assert by_name["ledger_balance"]["rows"][0]["program_id"] == program
    assert by_name["ledger_balance"]["rows"][0]["difference"] == format(difference, "f")
    assert by_name["queue_depth"]["status"] == "unavailable"
    assert "BullMQ" in by_name["queue_depth"]["reason"]
    table = subprocess.run([sys.executable, "-m", "sge_recon", "check"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert "UNAVAILABLE" in table.stdout and "no data on this platform" in table.stdout
    # without REDIS_URL the worker and queue alerts can never fire: said at every start
    once = subprocess.run([sys.executable, "-m", "sge_recon", "scheduler", "--once"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert ("Warning: the queue_depth, queue_paused, worker_down alerts cannot fire: the sge "
            "platform's queue is BullMQ on Redis") in once.stderr
    assert "set REDIS_URL" in once.stderr and "Traceback" not in once.stderr
    assert once.returncode == 0 and "monitor " in once.stdout and "daily_reconciliation" in \
        once.stdout


def test_alerts_and_metrics_on_sge_skip_what_the_platform_lacks(faulty):
    recon, report, _ = faulty
    now = datetime.now(timezone.utc)
    facts = gather_facts(recon.db, recon.settings, now)
    # the facts hold the signal checks (the alert rules' and /metrics'); the catalogue says why
    # every other check is unavailable too
    assert set(recon.checks.unavailable()) == UNAVAILABLE
    assert set(facts.unavailable) == UNAVAILABLE & set(SIGNAL_CHECKS)
    [(program, currency, difference)] = report.faults["ledger_imbalance"]
    assert [(d.program_id, d.currency, d.difference) for d in facts.ledger
            if d.difference] == [(program, currency, difference)]
    names = {g.name for g in core_gauges(facts)}
    assert "sge_ledger_balance_difference_cents" in names
    assert not names & {"sge_queue_depth_total", "sge_worker_status",
                        "sge_webhook_deliveries_exhausted"}  # absent series, not zeros
    opened = recon.incidents.evaluate(now=now)
    kinds = {i["kind"] for i in recon.incidents.incidents()}
    assert "ledger_imbalance" in kinds
    assert not kinds & {"worker_down", "queue_depth", "webhook_exhausted",
                        "webhook_endpoint_failing"}
    assert opened is not None


def test_overview_greys_what_the_platform_lacks(faulty):
    recon, _, _ = faulty
    overview = recon.console.overview()
    lights = {m.name: (m.value, m.light.value) for m in overview.metrics}
    assert lights["Worker status"] == ("Not available", "grey")
    assert lights["Queue depth"] == ("Not available", "grey")
    assert lights["Ledger status"][1] == "red"
    webhooks = [a for a in overview.alerts if a.kind == "webhook_failures"][0]
    assert webhooks.light.value == "grey" and "no outbound webhooks" in webhooks.detail
    assert not overview.all_green


def test_export_of_an_sge_month_carries_contract_shaped_tables(clean, tmp_path):
    recon, report, _ = clean
    period = (report.as_of - timedelta(days=20)).strftime("%Y-%m")
    # that month may still be running: a preliminary export (--force) is what this test needs
    result = recon.exports.export(period, out_dir=tmp_path / "exports", force=True)
    verified = recon.exports.verify(result.directory)
    assert not verified.mismatches, verified.mismatches
    import duckdb

    con = duckdb.connect()
    ledger = con.execute(
        "SELECT type, count(*), sum(amount) FROM read_parquet(?) GROUP BY type ORDER BY type",
        [str(result.directory / "ledger_entries.parquet")]).fetchall()
    assert [t for t, _, _ in ledger] == ["credit", "debit"]
    assert all(isinstance(total, Decimal) and total > 0 for _, _, total in ledger)
    columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                         [str(result.directory / "ledger_entries.parquet")])
               .fetchall()]
    assert columns[:9] == ["id", "program_id", "transaction_id", "intent_id", "account", "type",
                           "amount", "currency", "created_at"]
    assert "platform_account" in columns
    # the views' platform-label columns (status predicates are rewritten onto them) and the
    # ledger's row hash (ledger_tamper's fingerprint) are not contract columns: no exported
    # table carries one
    for parquet in result.directory.glob("*.parquet"):
        names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                           [str(parquet)]).fetchall()]
        assert not [n for n in names if "__" in n], (parquet.name, names)
    assert "status" in [r[0] for r in con.execute(
        "DESCRIBE SELECT * FROM read_parquet(?)",
        [str(result.directory / "settlement_intents.parquet")]).fetchall()]
    # what SGE pays each affiliate: the line items of the month's batches, money exact
    items = con.execute(
        "SELECT count(*), sum(i.amount), count(*) FILTER (WHERE b.id IS NULL) "
        "FROM read_parquet(?) i LEFT JOIN read_parquet(?) b ON b.id = i.batch_id",
        [str(result.directory / "payout_items.parquet"),
         str(result.directory / "payout_batches.parquet")]).fetchone()
    with psycopg.connect(recon.db.url) as conn:
        expected = conn.execute(
            'SELECT count(*), sum(po.amount) FROM "Payout" po JOIN "PayoutBatch" b '
            'ON b.id = po."batchId" WHERE to_char(b."createdAt", \'YYYY-MM\') = %s',
            (period,)).fetchone()
    assert expected[0] > 0 and items == (expected[0], expected[1], 0)


@pytest.mark.slow
def test_every_console_page_renders_on_sge(faulty, monkeypatch, tmp_path):
    from .console_support import PAGES, app, console_env, open_page

    recon, _, _ = faulty
    console_env(monkeypatch, recon.db.url, "http://127.0.0.1:9", tmp_path,
                PLATFORM_PROFILE="sge")
    at = app()
    for page in PAGES:
        open_page(at, page)  # asserts no exception on the page
    open_page(at, "webhooks")
    assert "no outbound webhooks" in " ".join(i.value for i in at.info)
    open_page(at, "queue")
    assert "BullMQ" in " ".join(i.value for i in at.info)
    open_page(at, "overview")
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(
        str(getattr(m, "value", "")) for m in at.metric)
    assert "Not available" in text


def test_sges_two_person_rule_is_the_contracts_quorum(new_database):
    """On SGE the two people are the batch's creator and its approver: a batch its creator
    approved has one distinct approver and fails payout_approval_quorum (default quorum 2)."""
    url, _ = sge_database(new_database)
    recon = sge_recon(url)
    assert recon.checks.run(only=["payout_approval_quorum"], store=False).status == "pass"
    db = Database(url)
    batch = db.fetch_one('SELECT id FROM "PayoutBatch" WHERE status = \'COMPLETED\' '
                         'AND "createdById" IS NOT NULL ORDER BY id LIMIT 1')["id"]
    db.execute('UPDATE "PayoutBatch" SET "approvedById" = "createdById" WHERE id = %s', (batch,))
    result = recon.checks.run(only=["payout_approval_quorum"], store=False).by_name()[
        "payout_approval_quorum"]
    assert result.status == "fail" and [r["batch_id"] for r in result.rows] == [batch]


def test_a_creator_approving_under_a_variant_of_their_id_is_one_person(new_database):
    """SGE's X-Admin-Id is free text and SGE compares it exactly, so its creator can approve their
    own batch as 'ops:alice ' or 'OPS:ALICE', or a batch can be approved by '' (nobody): each is
    one person (or none) to the quorum check, never a second approver."""
    url, _ = sge_database(new_database)
    recon = sge_recon(url)
    db = Database(url)
    batches = [r["id"] for r in db.fetch_all(
        'SELECT id FROM "PayoutBatch" WHERE status = \'COMPLETED\' AND "createdById" IS NOT NULL '
        'ORDER BY id LIMIT 5')]
    variants = ['"createdById" || \' \'', 'E\'\\t\' || "createdById" || E\'\\n\'',
                'upper("createdById")', "''", "'  '"]
    for batch, variant in zip(batches, variants, strict=True):
        db.execute(f'UPDATE "PayoutBatch" SET "approvedById" = {variant} WHERE id = %s', (batch,))
    result = recon.checks.run(only=["payout_approval_quorum"], store=False).by_name()[
        "payout_approval_quorum"]
    assert result.status == "fail"
    assert sorted((r["batch_id"], r["approvals"]) for r in result.rows) == [
        (b, 1) for b in sorted(batches)]


def test_a_status_the_platform_added_after_db_init_is_no_pass_every_minute(new_database):
    """SGE adds an IntentStatus label after `db init` and an intent sits in it for hours: the
    per-minute run read it as unmapped:RETRYING, which stuck_intents never names, and passed
    (only the daily platform_data_integrity saw it). Now every check reading the intents is
    `error` naming the label and the fix until the profile maps it; a failing check keeps its
    rows, and checks of other tables are untouched."""
    url, _ = sge_database(new_database, intents=300)
    recon = sge_recon(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""ALTER TYPE "IntentStatus" ADD VALUE 'RETRYING'""")
        conn.execute("""UPDATE "Intent" SET status = 'RETRYING',
                        "updatedAt" = (now() AT TIME ZONE 'UTC') - interval '3 hours'
                        WHERE id = (SELECT min(id) FROM "Intent" WHERE status = 'CONFIRMED')""")
    fast = recon.checks.run(fast_only=True, store=False).by_name()
    for name in ("stuck_intents", "processing_time"):
        assert fast[name].status == "error", (name, fast[name].status)
        assert "settlement_intents.status RETRYING" in fast[name].error
        assert "sge-recon db init" in fast[name].error
    assert fast["ledger_balance"].status == "pass"
    full = recon.checks.run(only=["platform_data_integrity", "payout_batch_sla"],
                            store=False).by_name()
    assert full["platform_data_integrity"].status == "fail"  # its rows name the intent
    assert [r["problem"] for r in full["platform_data_integrity"].rows] == ["unknown_status"]
    assert full["payout_batch_sla"].status == "pass"
