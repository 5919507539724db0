"""`sge-recon simulate`: deterministic, realistic, clean unless told, and each fault planted exactly.

Every §5 condition is written out here in plain SQL, independently of the checks engine, so these
tests say what the data is, not what some check thinks of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from refplatform.simulate import (
    FAULT_CHECKS,
    FAULT_NAMES,
    PlatformNotEmpty,
    SimulationReport,
    Simulator,
    parse_faults,
)
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import UsageError

from .conftest import settings_for

SIZE = 2_000
AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

# DESIGN §5, one query per check: true when the check would NOT pass (warn or fail).
FAILING: dict[str, str] = {
    "ledger_balance": """
        SELECT EXISTS (SELECT 1 FROM ledger_entries GROUP BY program_id, currency
            HAVING abs(sum(amount) FILTER (WHERE type = 'debit')
                       - sum(amount) FILTER (WHERE type = 'credit')) >= 0.01)""",
    "transaction_balance": """
        SELECT EXISTS (SELECT 1 FROM ledger_entries GROUP BY transaction_id
            HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0)""",
    "stuck_intents": """
        SELECT EXISTS (SELECT 1 FROM settlement_intents
            WHERE status IN ('payment_pending', 'verifying', 'processing')
              AND status_changed_at < now() - interval '10 minutes')""",
    "payout_batch_sla": """
        SELECT EXISTS (SELECT 1 FROM payout_batches
            WHERE (status = 'pending_approval' AND created_at < now() - interval '24 hours')
               OR (status = 'approved' AND executed_at IS NULL
                   AND coalesce(approved_at, created_at) < now() - interval '24 hours'))""",
    "webhook_retries": """
        SELECT count(*) > 5 FROM webhook_deliveries WHERE status = 'retry_scheduled'""",
    "webhook_exhausted": """
        SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'failed')""",
    "webhook_endpoints_failing": """
        SELECT EXISTS (
            SELECT 1 FROM webhook_endpoints e
            JOIN webhook_deliveries d ON d.endpoint_id = e.id
             AND d.status IN ('failed', 'retry_scheduled')
             AND d.last_attempt_at > coalesce((SELECT max(ok.last_attempt_at)
                   FROM webhook_deliveries ok
                   WHERE ok.endpoint_id = e.id AND ok.status = 'delivered'), '-infinity')
            WHERE e.enabled GROUP BY e.id
            HAVING sum(d.attempt_count) > 10 OR min(d.created_at) < now() - interval '24 hours')""",
    "worker_status": """
        WITH seen AS (SELECT * FROM worker_heartbeats WHERE last_seen_at > now() - interval '24 hours'),
        recent AS (SELECT percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM finished_at - started_at)) AS p50
                   FROM jobs WHERE status = 'completed' AND finished_at > now() - interval '15 minutes'),
        baseline AS (SELECT percentile_cont(0.5) WITHIN GROUP (
                         ORDER BY extract(epoch FROM finished_at - started_at)) AS p50
                     FROM jobs WHERE status = 'completed'
                       AND finished_at <= now() - interval '15 minutes'
                       AND finished_at > now() - interval '7 days 15 minutes')
        SELECT (SELECT count(*) FROM seen) = 0
            OR EXISTS (SELECT 1 FROM seen WHERE last_seen_at < now() - interval '60 seconds')
            OR coalesce((SELECT p50 FROM recent) > 2 * (SELECT p50 FROM baseline), false)""",
    "queue_depth": """
        SELECT count(*) >= 100 FROM jobs WHERE queue = 'settlement' AND status = 'waiting'""",
    "processing_time": """
        SELECT avg(extract(epoch FROM completed_at - created_at)) >= 5
        FROM (SELECT created_at, completed_at FROM settlement_intents WHERE status = 'completed'
              ORDER BY completed_at DESC LIMIT 100) last100""",
    "affiliate_tree": """
        WITH RECURSIVE walk (start_id, id, path) AS (
            SELECT id, parent_id, ARRAY[id] FROM affiliates WHERE parent_id IS NOT NULL
            UNION ALL
            SELECT w.start_id, a.parent_id, w.path || a.id FROM walk w
            JOIN affiliates a ON a.id = w.id
            WHERE a.parent_id IS NOT NULL AND NOT a.id = ANY (w.path))
        SELECT EXISTS (SELECT 1 FROM affiliates c LEFT JOIN affiliates p ON p.id = c.parent_id
                       WHERE c.parent_id IS NOT NULL
                         AND (p.id IS NULL OR p.program_id <> c.program_id))
            OR EXISTS (SELECT 1 FROM walk WHERE id = start_id)""",
    "commission_accuracy": """
        SELECT EXISTS (SELECT 1 FROM commissions c JOIN programs p ON p.id = c.program_id
            WHERE c.rate <> CASE c.level WHEN 1 THEN p.direct_commission_rate
                                         ELSE p.parent_commission_rate END
               OR c.amount <> round(c.base_amount * c.rate, 2))""",
    "settlement_chain_match": """
        SELECT EXISTS (SELECT 1 FROM settlements s
                       LEFT JOIN chain_transactions t ON t.tx_hash = s.tx_hash
                       WHERE t.tx_hash IS NULL OR t.amount <> s.amount)
            OR EXISTS (SELECT 1 FROM chain_transactions t
                       JOIN programs p ON p.treasury_address = t.to_address
                       WHERE NOT EXISTS (SELECT 1 FROM settlements s WHERE s.tx_hash = t.tx_hash))""",
    "commission_ledger": """
        WITH c AS (SELECT affiliate_id, sum(amount) AS total FROM commissions GROUP BY 1),
             l AS (SELECT substr(account, 11) AS affiliate_id, sum(amount) AS total
                   FROM ledger_entries WHERE account LIKE 'affiliate:%' AND type = 'credit'
                   GROUP BY 1)
        SELECT EXISTS (SELECT 1 FROM c FULL JOIN l USING (affiliate_id)
                       WHERE coalesce(c.total, 0) <> coalesce(l.total, 0))""",
}

# What each fault must look like in detail (true when planted as described).
PLANTED: dict[str, str] = {
    "ledger_imbalance": """
        SELECT bool_and(d = 12.34) AND count(*) = 1 FROM (
            SELECT sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS d
            FROM ledger_entries GROUP BY program_id, currency
            HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0) x""",
    "unbalanced_transaction": """
        SELECT count(*) = 2 AND count(DISTINCT program_id) = 1 AND sum(d) = 0 FROM (
            SELECT transaction_id, min(program_id) AS program_id,
                   sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS d
            FROM ledger_entries GROUP BY transaction_id
            HAVING sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) <> 0) x""",
    "stuck_intents": """
        SELECT count(*) FILTER (WHERE age BETWEEN interval '10 minutes' AND interval '15 minutes') >= 1
           AND count(*) FILTER (WHERE age > interval '15 minutes') >= 1
        FROM (SELECT now() - status_changed_at AS age FROM settlement_intents
              WHERE status IN ('payment_pending', 'verifying', 'processing')) x""",
    "payout_sla": """
        SELECT EXISTS (SELECT 1 FROM payout_batches WHERE status = 'pending_approval'
                       AND created_at < now() - interval '24 hours')
           AND EXISTS (SELECT 1 FROM payout_batches WHERE status = 'approved'
                       AND executed_at IS NULL AND approved_at < now() - interval '24 hours')""",
    "webhook_retries": """
        SELECT count(*) > 5 FROM webhook_deliveries WHERE status = 'retry_scheduled'""",
    "webhook_exhausted": """
        SELECT count(*) >= 1 AND bool_and(attempt_count = 5) FROM webhook_deliveries
        WHERE status = 'failed'""",
    "webhook_endpoint_failing": """
        SELECT EXISTS (SELECT 1 FROM webhook_endpoints e JOIN webhook_deliveries d
                       ON d.endpoint_id = e.id AND d.status IN ('failed', 'retry_scheduled')
                       WHERE e.enabled AND NOT EXISTS (SELECT 1 FROM webhook_deliveries ok
                           WHERE ok.endpoint_id = e.id AND ok.status = 'delivered')
                       GROUP BY e.id HAVING sum(d.attempt_count) > 10)""",
    "worker_down": """
        SELECT count(*) > 0 AND bool_and(last_seen_at < now() - interval '60 seconds')
        FROM worker_heartbeats""",
    "worker_slow": """
        SELECT bool_and(last_seen_at > now() - interval '60 seconds') FROM worker_heartbeats""",
    "queue_backlog": """
        SELECT count(*) > 500 FROM jobs WHERE queue = 'settlement' AND status = 'waiting'""",
    "slow_processing": """
        SELECT avg(extract(epoch FROM completed_at - created_at)) > 15
        FROM (SELECT created_at, completed_at FROM settlement_intents WHERE status = 'completed'
              ORDER BY completed_at DESC LIMIT 100) last100""",
    "affiliate_cycle": """
        WITH RECURSIVE walk (start_id, id, depth, path) AS (
            SELECT id, parent_id, 1, ARRAY[id] FROM affiliates WHERE parent_id IS NOT NULL
            UNION ALL
            SELECT w.start_id, a.parent_id, w.depth + 1, w.path || a.id FROM walk w
            JOIN affiliates a ON a.id = w.id
            WHERE a.parent_id IS NOT NULL AND NOT a.id = ANY (w.path))
        SELECT coalesce(min(depth) >= 3, false) FROM walk WHERE id = start_id""",
    "affiliate_orphan": """
        SELECT EXISTS (SELECT 1 FROM affiliates c WHERE c.parent_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM affiliates p WHERE p.id = c.parent_id))""",
    "affiliate_cross_program": """
        SELECT EXISTS (SELECT 1 FROM affiliates c JOIN affiliates p ON p.id = c.parent_id
                       WHERE p.program_id <> c.program_id)""",
    "commission_rate": """
        SELECT count(*) = 1 FROM commissions c JOIN programs p ON p.id = c.program_id
        WHERE c.rate <> CASE c.level WHEN 1 THEN p.direct_commission_rate
                                     ELSE p.parent_commission_rate END
          AND c.amount = round(c.base_amount * c.rate, 2)""",
    "commission_amount": """
        SELECT count(*) = 1 FROM commissions c JOIN programs p ON p.id = c.program_id
        WHERE c.rate = CASE c.level WHEN 1 THEN p.direct_commission_rate
                                    ELSE p.parent_commission_rate END
          AND c.amount <> round(c.base_amount * c.rate, 2)""",
    "settlement_missing_on_chain": """
        SELECT count(*) = 1 FROM settlements s
        WHERE NOT EXISTS (SELECT 1 FROM chain_transactions t WHERE t.tx_hash = s.tx_hash)""",
    "settlement_amount_mismatch": """
        SELECT count(*) = 1 FROM settlements s JOIN chain_transactions t USING (tx_hash)
        WHERE t.amount <> s.amount""",
    "unknown_transfer": """
        SELECT count(*) = 1 FROM chain_transactions t
        JOIN programs p ON p.treasury_address = t.to_address
        WHERE NOT EXISTS (SELECT 1 FROM settlements s WHERE s.tx_hash = t.tx_hash)""",
    "commission_ledger_drift": """
        SELECT count(*) = 1 FROM (
            SELECT c.affiliate_id FROM (SELECT affiliate_id, sum(amount) AS total
                                        FROM commissions GROUP BY 1) c
            JOIN (SELECT substr(account, 11) AS affiliate_id, sum(amount) AS total
                  FROM ledger_entries WHERE account LIKE 'affiliate:%' AND type = 'credit'
                  GROUP BY 1) l USING (affiliate_id)
            WHERE l.total - c.total = 5.00) x""",
}

TABLES = ["programs", "affiliates", "users", "settlement_intents", "settlements",
          "chain_transactions", "ledger_entries", "commissions", "payout_batches",
          "payout_approvals", "webhook_endpoints", "webhook_deliveries", "worker_heartbeats",
          "jobs", "rpc_calls", "queue_control"]


def truth(db: Database, sql: str) -> bool:
    row = db.fetch_one(sql)
    return bool(next(iter(row.values())))


def failing(db: Database) -> set[str]:
    return {name for name, sql in FAILING.items() if truth(db, sql)}


def table_hashes(db: Database) -> dict[str, str]:
    out = {}
    for table in TABLES:
        row = db.fetch_one(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                           f"AS h, count(*) AS n FROM public.{table} t")
        out[table] = f"{row['n']}:{row['h']}"
    return out


def load(url: str, **options) -> SimulationReport:
    return Simulator(Recon(settings_for(url))).run(**{"intents": SIZE, **options})


# -- clean data ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(module_db_url):
    report = load(module_db_url)
    return Database(module_db_url), report


def test_clean_data_passes_every_check(clean):
    db, _ = clean
    assert failing(db) == set()


def test_clean_data_is_realistic(clean):
    db, report = clean
    counts = report.row_counts
    assert counts["programs"] >= 3 and counts["settlement_intents"] == SIZE + 10
    assert counts["ledger_entries"] > 4 * SIZE  # payments, commissions, payouts
    one = lambda sql: next(iter(db.fetch_one(sql).values()))  # noqa: E731
    # a program with intents in two currencies, balances per (program, currency)
    assert one("SELECT max(n) FROM (SELECT count(DISTINCT currency) AS n FROM settlement_intents "
               "GROUP BY program_id) x") == 2
    # contract rates around 1 % / 0.5 %, varying per program
    assert one("SELECT count(DISTINCT direct_commission_rate) FROM programs") > 1
    assert one("SELECT bool_and(direct_commission_rate BETWEEN 0.008 AND 0.012 AND "
               "parent_commission_rate BETWEEN 0.004 AND 0.006) FROM programs")
    # affiliate trees several levels deep, users referred or not
    depth = one("WITH RECURSIVE t AS (SELECT id, 1 AS depth FROM affiliates WHERE parent_id IS NULL "
                "UNION ALL SELECT a.id, t.depth + 1 FROM affiliates a JOIN t ON a.parent_id = t.id) "
                "SELECT max(depth) FROM t")
    assert depth >= 4
    assert one("SELECT count(*) FILTER (WHERE referred_by IS NULL) > 0 AND "
               "count(*) FILTER (WHERE referred_by IS NOT NULL) > count(*) / 2 FROM users")
    # lifecycle: mostly completed, failures with an error and attempts, a few in flight
    statuses = {r["status"]: r["n"] for r in db.fetch_all(
        "SELECT status, count(*) AS n FROM settlement_intents GROUP BY status")}
    assert statuses["completed"] > 0.9 * SIZE
    assert statuses["failed"] > 0 and statuses["payment_pending"] > 0
    assert statuses["verifying"] > 0 and statuses["processing"] > 0
    assert one("SELECT bool_and(last_error IS NOT NULL AND attempts BETWEEN 1 AND 5) "
               "FROM settlement_intents WHERE status = 'failed'")
    assert one("SELECT count(*) FROM settlement_intents WHERE status = 'completed'") == \
        counts["settlements"]
    # each settlement's chain transfer goes to its program's treasury
    assert one("SELECT bool_and(t.to_address = p.treasury_address) FROM settlements s "
               "JOIN chain_transactions t USING (tx_hash) JOIN programs p ON p.id = s.program_id")
    # commissions in all three states; payouts only debit affiliate accounts
    assert {r["status"] for r in db.fetch_all("SELECT DISTINCT status FROM commissions")} == \
        {"accrued", "payable", "paid"}
    assert one("SELECT count(*) FROM ledger_entries WHERE transaction_id LIKE 'txn_payout_%' "
               "AND account LIKE 'affiliate:%' AND type = 'credit'") == 0
    assert one("SELECT bool_and(c.status = 'paid') FROM commissions c "
               "JOIN payout_batches b ON b.id = c.payout_batch_id WHERE b.status = 'executed'")
    # executed batches: two distinct approvers, approved and executed within the SLA
    assert one("SELECT bool_and(n = 2) FROM (SELECT count(DISTINCT a.approver) AS n "
               "FROM payout_batches b JOIN payout_approvals a ON a.batch_id = b.id "
               "WHERE b.status = 'executed' GROUP BY b.id) x")
    assert one("SELECT bool_and(approved_at - created_at < interval '24 hours' AND "
               "executed_at - approved_at < interval '24 hours') FROM payout_batches "
               "WHERE status = 'executed'")
    assert one("SELECT count(*) FROM payout_batches WHERE status = 'pending_approval'") >= 1
    # webhooks: secrets, mostly delivered, a few retries following the schedule
    assert one("SELECT bool_and(secret IS NOT NULL) FROM webhook_endpoints")
    assert one("SELECT count(*) FILTER (WHERE status = 'delivered') > 0.95 * count(*) "
               "FROM webhook_deliveries")
    assert 1 <= one("SELECT count(*) FROM webhook_deliveries WHERE status = 'retry_scheduled'") <= 5
    assert one("SELECT bool_and(last_attempt_at - created_at >= (ARRAY[0, 1, 6, 21, 81])"
               "[attempt_count] * interval '1 minute') FROM webhook_deliveries")
    # workers live, a handful of waiting jobs, RPC samples over several providers
    assert one("SELECT bool_and(last_seen_at > now() - interval '60 seconds') FROM worker_heartbeats")
    assert 1 <= one("SELECT count(*) FROM jobs WHERE status = 'waiting'") < 100
    assert one("SELECT count(DISTINCT provider) FROM rpc_calls") >= 3
    # everything historical lies within the last 90 days before as_of
    assert one(f"SELECT min(created_at) >= '{report.as_of.isoformat()}'::timestamptz "
               f"- interval '90 days' FROM settlement_intents")


def test_money_is_exact(clean):
    db, _ = clean
    row = db.fetch_one("SELECT amount FROM commissions ORDER BY id LIMIT 1")
    assert isinstance(row["amount"], Decimal) and row["amount"] == row["amount"].quantize(
        Decimal("0.01"))


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_and_as_of_give_identical_rows(new_database):
    a, b, c = new_database(), new_database(), new_database()
    load(a, seed=7, as_of=AS_OF, faults="all", intents=1_000)
    load(b, seed=7, as_of=AS_OF, faults="all", intents=1_000)
    load(c, seed=8, as_of=AS_OF, faults="all", intents=1_000)
    hashes_a, hashes_b = table_hashes(Database(a)), table_hashes(Database(b))
    assert hashes_a == hashes_b
    hashes_c = table_hashes(Database(c))
    for table in ("settlement_intents", "ledger_entries", "chain_transactions", "affiliates"):
        assert hashes_a[table] != hashes_c[table], table


# -- faults -----------------------------------------------------------------------------------
def test_fault_catalogue_covers_every_check():
    assert set(FAULT_CHECKS) == set(FAULT_NAMES) == set(PLANTED)
    assert {c for checks in FAULT_CHECKS.values() for c in checks} == set(FAILING)


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_each_fault_is_planted_exactly(fault, new_database):
    url = new_database()
    report = load(url, intents=1_000, faults=[fault])
    db = Database(url)
    assert report.faults == [fault]
    assert truth(db, PLANTED[fault]), f"{fault} not planted as described"
    assert failing(db) == set(FAULT_CHECKS[fault])


def test_all_faults_together(new_database):
    url = new_database()
    load(url, faults="all")
    db = Database(url)
    assert failing(db) == set(FAILING)
    for fault in FAULT_NAMES:
        if fault in ("unbalanced_transaction", "worker_slow"):
            # exact only alone: ledger_imbalance adds a third unbalanced transaction, and
            # worker_down stops the heartbeats that worker_slow keeps alive
            continue
        assert truth(db, PLANTED[fault]), fault


def test_fault_names_are_validated():
    assert parse_faults("all") == list(FAULT_NAMES)
    assert parse_faults("stuck_intents, ledger_imbalance") == ["ledger_imbalance", "stuck_intents"]
    with pytest.raises(UsageError, match="unknown fault 'nope'; known faults: ledger_imbalance"):
        parse_faults("ledger_imbalance,nope")


# -- reset and refusal -------------------------------------------------------------------------
def test_refuses_existing_data_without_reset_and_replaces_it_with(new_database):
    url = new_database()
    load(url, seed=3, as_of=AS_OF, intents=1_000)
    db = Database(url)
    before = table_hashes(db)
    with pytest.raises(PlatformNotEmpty, match="already hold data.*--reset"):
        load(url, seed=4, as_of=AS_OF, intents=1_000)
    assert table_hashes(db) == before  # nothing changed
    load(url, seed=4, as_of=AS_OF, intents=1_000, reset=True)
    after = table_hashes(db)
    assert after["settlement_intents"] != before["settlement_intents"]
    load(url, seed=3, as_of=AS_OF, intents=1_000, reset=True)
    assert table_hashes(db) == before  # reset restarts sequences too: same rows as first time


def test_reset_never_erases_a_platform_it_did_not_load(db_url, factory):
    program = factory.program()  # a "real" platform: rows that no simulation loaded
    db = Database(db_url)
    before = table_hashes(db)
    with pytest.raises(PlatformNotEmpty, match="did not load; --reset only replaces simulated"):
        load(db_url, seed=1, as_of=AS_OF, intents=1_000, reset=True)
    assert table_hashes(db) == before
    assert db.fetch_one("SELECT id FROM programs") == {"id": program["id"]}


def test_bad_sizes_are_refused(db_url):
    with pytest.raises(UsageError, match="--intents must be between"):
        load(db_url, intents=10)
    with pytest.raises(UsageError, match="--seed"):
        load(db_url, seed=-1)


# -- CLI --------------------------------------------------------------------------------------
def run_cli(args, env):
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_unknown_fault_is_an_error_and_writes_nothing(cli_env, db):
    done = run_cli(["simulate", "--intents", "1000", "--faults", "ledger_imbalance,bogus"], cli_env)
    assert done.returncode != 0
    assert done.stderr.strip().startswith("Error: unknown fault 'bogus'; known faults: ")
    assert "Traceback" not in done.stderr
    assert db.fetch_one("SELECT count(*) AS n FROM programs")["n"] == 0


def test_cli_loads_and_summarises(cli_env, db):
    done = run_cli(["simulate", "--intents", "1000", "--seed", "5"], cli_env)
    assert done.returncode == 0, done.stderr
    assert "ledger_entries" in done.stdout and "Loaded 1,000 intents" in done.stdout
    again = run_cli(["simulate", "--intents", "1000"], cli_env)
    assert again.returncode != 0 and "--reset" in again.stderr
    bad = run_cli(["simulate", "--as-of", "yesterday"], cli_env)
    assert bad.returncode != 0 and "Error: --as-of must be an ISO 8601 time" in bad.stderr


def test_cli_lists_faults_without_a_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"  # never contacted
    done = run_cli(["simulate", "--list-faults"], env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(FAULT_NAMES)
    assert any(line.startswith("ledger_imbalance") and "ledger_balance, transaction_balance"
               in line for line in lines)
