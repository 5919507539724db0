"""Tamper detection (issue 8): the full run recomputes the totals up to the checkpoint's
watermark; rows of the past that were updated or deleted are a P0 finding naming the program,
the currency and the amount, and a P0 incident."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from sge_recon.db import ledger_checkpoint as checkpoint
from sge_recon.errors import UsageError

from .checkpoint_support import settle_checkpoint


@pytest.fixture
def reconciled(recon, factory):
    """Two programs with balanced journals, all of them below the watermark."""
    a, b = factory.program(id="prog_a")["id"], factory.program(id="prog_b", currency="EUR")["id"]
    for n in range(3):
        factory.journal(a, [("treasury", "debit", "100.00"), ("user:1", "credit", "100.00")])
        factory.journal(b, [("treasury", "debit", "7.50"), ("user:2", "credit", "7.50")],
                        currency="EUR")
    assert settle_checkpoint(recon.db).watermark == 12
    run = recon.checks.run(only=["ledger_tamper"], store=False)
    assert run.checks[0].status == "pass"
    return recon


def _tamper(recon) -> list[dict]:
    result = recon.checks.run(store=False).by_name()["ledger_tamper"]
    assert result.status == "fail" and result.priority == "P0"
    return result.rows


def test_an_update_of_an_old_row_is_caught(reconciled, db):
    db.execute("UPDATE public.ledger_entries SET amount = 90 WHERE id = 1")
    [row] = _tamper(reconciled)
    assert (row["program_id"], row["currency"], row["problem"], row["amount"]) == \
        ("prog_a", "USD", "rows_changed", Decimal("10.000000"))
    assert row["checkpoint_debits"] - row["actual_debits"] == Decimal("10")
    # the per-minute run trusts reconciled history: only the daily full run can see this
    fast = reconciled.checks.run(fast_only=True, store=False).by_name()
    assert fast["ledger_balance"].status == "pass"


def test_a_delete_of_an_old_row_is_caught(reconciled, db):
    db.execute("DELETE FROM public.ledger_entries WHERE id = 4")  # prog_b's credit of 7.50
    [row] = _tamper(reconciled)
    assert (row["program_id"], row["currency"], row["problem"], row["amount"]) == \
        ("prog_b", "EUR", "rows_deleted", Decimal("7.500000"))
    assert (row["checkpoint_entries"], row["actual_entries"]) == (6, 5)


def test_a_change_the_totals_cannot_see_is_caught_by_the_fingerprint(reconciled, db):
    db.execute("UPDATE public.ledger_entries SET account = 'user:thief' WHERE id = 2")
    [row] = _tamper(reconciled)
    assert (row["program_id"], row["problem"], row["amount"]) == \
        ("prog_a", "rows_changed", Decimal("0.000000"))


def test_new_entries_above_the_watermark_are_not_tampering(reconciled, factory):
    factory.journal("prog_a", [("treasury", "debit", "1.00"), ("user:1", "credit", "2.00")])
    run = reconciled.checks.run(store=False).by_name()
    assert run["ledger_tamper"].status == "pass"
    assert run["ledger_balance"].status == "fail"


def test_tampering_opens_a_p0_incident_until_the_checkpoint_is_rebased(reconciled, db):
    db.execute("DELETE FROM public.ledger_entries WHERE id = 1")
    reconciled.checks.run()  # the daily full run, stored
    now = datetime.now(timezone.utc)
    opened = reconciled.incidents.evaluate(now).opened
    tamper = [i for i in opened if i["kind"] == "ledger_tamper"]
    assert len(tamper) == 1
    # one page per check and run, listing every program/currency (issue 19's grouping)
    assert tamper[0]["priority"] == "P0" and tamper[0]["key"] == ""
    assert "prog_a" in tamper[0]["title"] and "100.00 USD" in tamper[0]["title"]
    # still open a minute later (the finding stays until a full run passes)
    assert not [i for i in reconciled.incidents.evaluate(now).resolved
                if i["kind"] == "ledger_tamper"]
    with pytest.raises(UsageError):
        reconciled.checks.rebase_checkpoint("  ")
    reconciled.checks.rebase_checkpoint("INC-1: test row deleted on purpose")
    assert checkpoint.read_checkpoint(reconciled.db)["rebase_reason"].startswith("INC-1")
    assert reconciled.checks.run().by_name()["ledger_tamper"].status == "pass"
    resolved = reconciled.incidents.evaluate(now).resolved
    assert [i["kind"] for i in resolved if i["kind"] == "ledger_tamper"] == ["ledger_tamper"]


def test_rebase_from_the_command_line(reconciled, cli_env):
    import subprocess
    import sys

    def rebase(*args):
        return subprocess.run([sys.executable, "-m", "sge_recon", "check", *args], env=cli_env,
                              capture_output=True, text=True, timeout=120)

    empty = rebase("--rebase-checkpoint", " ")
    assert empty.returncode == 3 and "Error: a rebase needs a reason" in empty.stderr
    done = rebase("--rebase-checkpoint", "INC-2 reviewed")
    assert done.returncode == 0, done.stderr
    assert "watermark 12" in done.stdout


@pytest.mark.parametrize("reason, words", [
    (b"INC-3 reviewed by J\xfcrgen", "is not UTF-8 text"),  # a Latin-1 terminal
    (b"INC-3 " + b"x" * 3000, "at most 2,000 printable characters"),
    (b"INC-3\nreviewed", "at most 2,000 printable characters"),
], ids=["latin-1", "3000-chars", "two-lines"])
def test_a_rebase_reason_that_cannot_be_recorded_is_refused(reconciled, cli_env, reason, words):
    """A Latin-1 reason was 'unexpected UnicodeEncodeError (a bug in sge-recon…)'; a 3,000
    character one (or a pasted 100 kB log) was recorded as it was. Refused, nothing rebased."""
    import subprocess
    import sys

    before = checkpoint.read_checkpoint(reconciled.db)
    result = subprocess.run([sys.executable.encode(), b"-m", b"sge_recon", b"check",
                             b"--rebase-checkpoint", reason], env=cli_env, capture_output=True,
                            timeout=120)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 3 and err.startswith("Error: the rebase reason ") and words in err
    assert "nothing was rebased" in err and "unexpected" not in err
    assert checkpoint.read_checkpoint(reconciled.db) == before


# -- the row hash is one to one with the row (audit finding 4) ---------------------------------
def _only_tamper(recon) -> list[tuple]:
    result = recon.checks.run(only=["ledger_tamper"], store=False).by_name()["ledger_tamper"]
    return [(r["program_id"], r["problem"]) for r in result.rows]


@pytest.mark.parametrize("change", [
    # text moved across a column boundary: concat_ws('|', …) read both rows as one text
    "UPDATE public.ledger_entries SET intent_id = 'int_1|affiliate:alice', account = 'bonus' "
    "WHERE account = 'affiliate:alice|bonus'",
    # a NULL intent_id written as '-' (coalesce(intent_id, '-') read them alike)
    "UPDATE public.ledger_entries SET intent_id = '-' WHERE intent_id IS NULL",
    # two entries swap their accounts: a sum of record hashes depends on each column's values,
    # not on which row holds them, unless each row's hash is mixed
    "UPDATE public.ledger_entries SET account = CASE account WHEN 'treasury' THEN "
    "'affiliate:alice|bonus' ELSE 'treasury' END WHERE program_id = 'prog_c'",
])
def test_a_change_that_keeps_the_rows_text_is_still_caught(recon, factory, db, change):
    c = factory.program(id="prog_c")["id"]
    factory.journal(c, [("affiliate:alice|bonus", "credit", "100"), ("treasury", "debit", "100")],
                    intent_id="int_1")
    factory.journal(c, [("user:1", "debit", "5"), ("user:2", "credit", "5")])  # no intent
    settle_checkpoint(recon.db)
    assert _only_tamper(recon) == []
    db.execute(change)
    assert _only_tamper(recon) == [("prog_c", "rows_changed")]


def test_upgrading_from_the_old_row_hash_rebuilds_the_checkpoint_without_an_alarm(reconciled, db):
    """A checkpoint summed by the release before migration 0031 (concat_ws, recorded as
    'contract') would differ from every program's rows under the new hash: db init, which applies
    the migration, rebuilds it instead, and the next full run passes."""
    old_body = """RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT hashtextextended(concat_ws('|', id, program_id, transaction_id,
            coalesce(intent_id, '-'), account, type, amount, currency,
            extract(epoch FROM created_at)), 0) $$"""
    for id_type in ("bigint", "text"):  # the release before: its function, its checkpoint
        db.execute(f"CREATE OR REPLACE FUNCTION recon.ledger_row_hash(id {id_type}, "
                   "program_id text, transaction_id text, intent_id text, account text, "
                   f"type text, amount numeric, currency text, created_at timestamptz) {old_body}")
    db.execute("DELETE FROM recon.schema_version WHERE version >= 31")
    db.execute("""UPDATE recon.ledger_checkpoint_totals t SET fingerprint = s.f
        FROM (SELECT program_id, currency, sum(recon.ledger_row_hash(id, program_id,
                     transaction_id, intent_id, account, type, amount, currency, created_at)) f
              FROM public.ledger_entries WHERE id <= 12 GROUP BY 1, 2) s
        WHERE s.program_id = t.program_id AND s.currency = t.currency""")
    db.execute("UPDATE recon.ledger_checkpoint SET fingerprinted_by = 'contract'")
    assert _only_tamper(reconciled) == []   # consistent under the old release
    reconciled.init_db()                      # the upgrade
    cp = checkpoint.read_checkpoint(reconciled.db)
    assert (cp["watermark"], cp["fingerprinted_by"]) == (0, "contract:record")
    assert _only_tamper(reconciled) == []
    settle_checkpoint(reconciled.db)
    assert _only_tamper(reconciled) == []
    db.execute("UPDATE public.ledger_entries SET account = 'user:1|x' WHERE id = 2")
    assert _only_tamper(reconciled) == [("prog_a", "rows_changed")]
