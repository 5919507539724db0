"""The SGE profile's ledger checks under hostile data (audit of the checks, findings 1–3): every
engine must see two journals that differ only in where a ':' sits as two journals, the
per-minute run must never forget a checkpointed unbalanced journal, and an entry whose id is not
a cuid must be new to the per-minute run, not hidden below the watermark."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg

from sge_recon.context import Recon
from sge_recon.db import ledger_checkpoint as checkpoint

from .checkpoint_support import settle_checkpoint
from .test_profile_checkpoint import a_program, sge

LEDGER = ["ledger_balance", "transaction_balance", "journal_single_program"]
INSERT = """
INSERT INTO "LedgerEntry" (id, "programId", account, counterparty, amount, currency, "refType",
                           "refId", "createdAt")
VALUES (%s, %s, %s, 'x', %s, 'USD', %s, %s, %s)
"""


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def add(recon: Recon, entries: list[tuple], at: datetime | None = None) -> None:
    """(id or None for a cuid stamped ``at``, account, amount, refType, refId), one transaction."""
    from refplatform.sge_store import cuid
    at = at or now_utc()
    program = a_program(recon)
    with psycopg.connect(recon.db.url) as conn:
        for key, account, amount, ref_type, ref_id in entries:
            key = key or cuid(at.replace(tzinfo=timezone.utc).timestamp())
            conn.execute(INSERT, (key, program, account, Decimal(amount), ref_type, ref_id, at))


def failing(run, name: str) -> list[tuple]:
    result = run.by_name()[name]
    keys = [k for k in ("transaction_id", "program_id", "currency", "difference", "programs")
            if result.rows and k in result.rows[0]]
    return sorted(tuple(str(r[k]) for k in keys) for r in result.rows)


def every_engine(recon: Recon, names: list[str]) -> dict[str, dict[str, list]]:
    """Each check's failing rows on: the full SQL run (fused journal pass), each check alone,
    DuckDB, Great Expectations and the per-minute incremental run."""
    runs = {"sql": recon.checks.run(only=names, store=False),
            "duckdb": recon.checks.run(only=names, engine="duckdb", store=False),
            "gx": recon.checks.run(only=names, engine="gx", store=False)}
    fast = recon.checks.run(fast_only=True, store=False)
    out = {engine: {n: failing(run, n) for n in names} for engine, run in runs.items()}
    out["alone"] = {n: failing(recon.checks.run(only=[n], store=False), n) for n in names}
    out["fast"] = {n: failing(fast, n) for n in names if n in fast.by_name()}
    assert runs["sql"].by_name()["transaction_balance"].details.get("fused") == "journal_pass"
    return out


def agree(found: dict[str, dict[str, list]]) -> dict[str, list]:
    full = found["sql"]
    for engine, checks in found.items():
        for name, rows in checks.items():
            assert rows == full[name], (engine, name)
    return full


def test_a_colon_moved_between_reftype_and_refid_is_another_journal_on_every_engine(new_database):
    """Finding 1: ('ADJUSTMENT', 'x:1') and ('ADJUSTMENT:x', '1') were both ADJUSTMENT:x:1, so an
    imbalance of +100 in one and -100 in the other summed to a balanced transaction."""
    recon = sge(new_database)
    history = now_utc() - timedelta(hours=1)  # below the watermark once settled
    add(recon, [(None, "system:suspense", "100", "ADJUSTMENT", "h:1"),
                (None, "system:fees", "-100", "ADJUSTMENT:h", "1")], at=history)
    add(recon, [(None, "system:suspense", "7", "PAYOUT\\", "2"),     # '\' escaped too
                (None, "system:fees", "-7", "PAYOUT", "\\:2")], at=history)
    settle_checkpoint(recon.db)
    add(recon, [(None, "system:suspense", "100", "ADJUSTMENT", "x:1"),
                (None, "system:fees", "-100", "ADJUSTMENT:x", "1")])
    full = agree(every_engine(recon, LEDGER))
    assert full["transaction_balance"] == [
        ("ADJUSTMENT:h:1", a_program(recon), "USD", "100.000000"),
        ("ADJUSTMENT:x:1", a_program(recon), "USD", "100.000000"),
        ("ADJUSTMENT\\:h:1", a_program(recon), "USD", "-100.000000"),
        ("ADJUSTMENT\\:x:1", a_program(recon), "USD", "-100.000000"),
        ("PAYOUT:\\:2", a_program(recon), "USD", "-7.000000"),
        ("PAYOUT\\\\:2", a_program(recon), "USD", "7.000000")]
    # an ordinary journal's id reads as before
    assert recon.db.fetch_one("SELECT count(*) AS n FROM platform.ledger_entries WHERE "
                              "transaction_id = ref_type || ':' || ref_id")["n"] > 1000


def test_the_per_minute_run_never_forgets_a_checkpointed_unbalanced_journal(new_database):
    """Finding 2: a new balanced journal ('ADJUSTMENT:x', '1') looked like the checkpointed
    unbalanced ('ADJUSTMENT', 'x:1'): the per-minute run cleared it and, once the new journal
    was below the watermark, the checkpoint forgot it for good."""
    recon = sge(new_database, LEDGER_ORDER_LAG_SECONDS=1)
    add(recon, [(None, "system:suspense", "100", "ADJUSTMENT", "x:1"),
                (None, "system:fees", "-100", "ADJUSTMENT", "y:1")],
        at=now_utc() - timedelta(hours=1))
    settle_checkpoint(recon.db)
    unbalanced = "SELECT transaction_id FROM recon.ledger_checkpoint_unbalanced ORDER BY 1"
    assert [r["transaction_id"] for r in recon.db.fetch_all(unbalanced)] == \
        ["ADJUSTMENT:x:1", "ADJUSTMENT:y:1"]
    add(recon, [(None, "system:suspense", "5", "ADJUSTMENT:x", "1"),
                (None, "system:fees", "-5", "ADJUSTMENT:x", "1"),
                (None, "system:suspense", "5", "ADJUSTMENT:y", "1"),
                (None, "system:fees", "-5", "ADJUSTMENT:y", "1")])
    expected = [("ADJUSTMENT:x:1", a_program(recon), "USD", "100.000000"),
                ("ADJUSTMENT:y:1", a_program(recon), "USD", "-100.000000")]
    fast = recon.checks.run(fast_only=True, store=False)
    assert failing(fast, "transaction_balance") == expected       # new journals above it
    time.sleep(1.5)                                                # ... then below it
    before = checkpoint.read_checkpoint(recon.db)["watermark"]
    assert settle_checkpoint(recon.db).watermark > before
    assert [r["transaction_id"] for r in recon.db.fetch_all(unbalanced)] == \
        ["ADJUSTMENT:x:1", "ADJUSTMENT:y:1"]
    fast = recon.checks.run(fast_only=True, store=False)
    full = recon.checks.run(only=["transaction_balance"], store=False)
    assert failing(fast, "transaction_balance") == failing(full, "transaction_balance") == expected


def test_an_entry_whose_id_is_not_a_cuid_is_new_to_the_per_minute_run(new_database):
    """Finding 3: under `order: cuid` an id below the cuid range (a UUID, an upper-case id) sorted
    below the watermark: the per-minute checks passed and only the daily ledger_tamper saw it,
    as "inserted below the watermark". Such ids are now new in every run, never history."""
    recon = sge(new_database, LEDGER_ORDER_LAG_SECONDS=1)
    settle_checkpoint(recon.db)
    ids = ["0b9c6f0e-6a55-4c1e-9d7e-2f1f6f1c9a01",   # a UUID below 'c'
           "c0b9c6f0-6a55-4c1e-9d7e-2f1f6f1c9a02",   # a UUID that starts with 'c'
           "CMAAAAAAA0000000000000003",              # an upper-case id
           "adj-4"]
    for n, key in enumerate(ids, 1):
        add(recon, [(key, "system:suspense", str(n * 100), "ADJUSTMENT", f"manual-{n}")])
    expected_tx = [(f"ADJUSTMENT:manual-{n}", a_program(recon), "USD", f"{n * 100}.000000")
                   for n in range(1, 5)]
    for _ in range(2):  # above the watermark, and after the watermark moved past their time
        time.sleep(1.5)
        settle_checkpoint(recon.db)
        fast = recon.checks.run(fast_only=True, store=False)
        full = recon.checks.run(only=["ledger_balance", "transaction_balance"], store=False)
        for name in ("ledger_balance", "transaction_balance"):
            assert failing(fast, name) == failing(full, name), name
        assert failing(fast, "transaction_balance") == expected_tx
        assert fast.by_name()["ledger_balance"].rows[0]["difference"] == Decimal("1000.000000")
        # never history: not checkpointed, so no tamper finding either
        assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"


def test_two_entries_swapping_an_account_is_tampering_on_sge(new_database):
    """The fingerprint sums one hash per row. A plain record hash is linear in its columns'
    hashes, so the sum saw only which values a column holds, not which entry holds them: two
    reconciled entries that swap accounts (money moved between accounts) passed ledger_tamper.
    The profile's fingerprint is now mixed per row, under a new identity (so that a checkpoint
    summed by the older definition is rebuilt, not compared)."""
    import hashlib

    from sge_recon.profiles import load_profile

    recon = sge(new_database)
    columns = load_profile("sge").tables["ledger_entries"].fingerprint
    old = "source:" + hashlib.sha256("\x1f".join(columns).encode()).hexdigest()[:16]
    assert recon.db.relations.row_fingerprint.startswith("source:")
    assert recon.db.relations.row_fingerprint != old
    settle_checkpoint(recon.db)
    assert recon.checks.run(only=["ledger_tamper"], store=False).status == "pass"
    a, b = recon.db.fetch_all(
        """SELECT id, account FROM "LedgerEntry" WHERE "programId" = %s AND amount > 0
           AND account LIKE 'affiliate:%%' ORDER BY id LIMIT 2""", (a_program(recon),))
    assert a["account"] != b["account"]
    with psycopg.connect(recon.db.url, autocommit=True) as conn:
        conn.execute('UPDATE "LedgerEntry" SET account = %s WHERE id = %s', (b["account"], a["id"]))
        conn.execute('UPDATE "LedgerEntry" SET account = %s WHERE id = %s', (a["account"], b["id"]))
    result = recon.checks.run(only=["ledger_tamper"], store=False).by_name()["ledger_tamper"]
    assert [(r["program_id"], r["problem"]) for r in result.rows] == \
        [(a_program(recon), "rows_changed")]


def test_a_journal_without_a_ref_is_one_transaction_checked_per_currency_on_sge(new_database):
    """The entries whose journal is NULL (a "refId" NULL: the view's transaction_id is NULL) are
    one transaction, re-checked per currency like any other on every engine, also once
    checkpointed (the per-minute run looks journals up by ("refType", "refId"), which never
    matches a NULL); '' is a currency of its own, distinct from every other."""
    recon = sge(new_database, LEDGER_ORDER_LAG_SECONDS=1)
    with psycopg.connect(recon.db.url, autocommit=True) as conn:  # a platform without it
        conn.execute('ALTER TABLE "LedgerEntry" ALTER COLUMN "refId" DROP NOT NULL')
    program = a_program(recon)

    def add_in(entries: list[tuple], at: datetime | None = None) -> None:
        from refplatform.sge_store import cuid
        at = at or now_utc()
        with psycopg.connect(recon.db.url) as conn:
            for amount, currency, ref_id in entries:
                conn.execute(INSERT.replace("'USD'", "%s"), (
                    cuid(at.replace(tzinfo=timezone.utc).timestamp()), program, "system:suspense",
                    Decimal(amount), currency, "ADJUSTMENT", ref_id, at))

    add_in([("5", "USD", None), ("-5", "EUR", None)], at=now_utc() - timedelta(hours=1))
    settle_checkpoint(recon.db)
    assert [tuple(r.values()) for r in recon.db.fetch_all(
        "SELECT transaction_id, currency, difference FROM recon.ledger_checkpoint_unbalanced "
        "ORDER BY transaction_id, currency")] == [(None, "EUR", Decimal("-5")),
                                                  (None, "USD", Decimal("5"))]
    assert agree(every_engine(recon, LEDGER))["transaction_balance"] == [
        ("None", program, "EUR", "-5.000000"), ("None", program, "USD", "5.000000")]
    add_in([("5", "EUR", None), ("3", "", "e:1"), ("-3", "USD", "e:1")])
    expected = [("ADJUSTMENT:e:1", program, "", "3.000000"),
                ("ADJUSTMENT:e:1", program, "USD", "-3.000000"),
                ("None", program, "USD", "5.000000")]
    for _ in range(2):  # above the watermark, then below it
        full = agree(every_engine(recon, LEDGER))
        assert full["transaction_balance"] == expected
        assert full["journal_single_program"] == []
        time.sleep(1.5)
        settle_checkpoint(recon.db)
