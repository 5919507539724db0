"""PostgreSQL's numeric special values (NaN, Infinity, -Infinity: PostgreSQL 14+) end to end.

`db init` accepts a platform whose money columns are plain `numeric` (DESIGN §4 names the type
family; a real platform's DDL may leave out the (38,6)), and such a column holds 'Infinity' and
'-Infinity' besides 'NaN'. Each must be evidence (a failing check, a readable sentence, a clear
refusal), never a pass, a traceback or a silently changed value.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sge_recon.db import Database
from sge_recon.console.verdicts import stuck_list
from sge_recon.errors import ExportError
from sge_recon.exports import ExportService
from sge_recon.money import money_text
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .console_support import app, console_env, open_page, texts
from .factories import ago
from .http_receiver import Receiver
from .platform_helpers import ADMIN, api, make, mdb, payable_batch, running_api  # noqa: F401
from .test_alerts import DISCORD, SLACK, alerting_recon, monitor_only, start_clock
from .test_checks_catalogue import run_one

EXPORT_PERIOD = "2025-03"
EXPORT_DAY = datetime(2025, 3, 14, 9, tzinfo=timezone.utc)
UNCONSTRAINED = """
ALTER TABLE public.ledger_entries ALTER COLUMN amount TYPE numeric;
ALTER TABLE public.settlement_intents ALTER COLUMN amount TYPE numeric;
ALTER TABLE public.settlements ALTER COLUMN amount TYPE numeric;
ALTER TABLE public.chain_transactions ALTER COLUMN amount TYPE numeric;
ALTER TABLE public.commissions ALTER COLUMN amount TYPE numeric;
ALTER TABLE public.payout_batches ALTER COLUMN total_amount TYPE numeric;
"""


def unconstrained(db_url: str) -> None:
    Database(db_url).execute(UNCONSTRAINED)


def test_an_infinite_settlement_confirmed_on_chain_never_passes(recon, factory, db_url):
    """An intent, its settlement and its on-chain transfer all of 'Infinity', with a finite
    journal: every money check compared Infinity with Infinity (equal in PostgreSQL) and passed;
    the run was green but for the worker."""
    unconstrained(db_url)
    program = factory.program()
    user = factory.user(program["id"])
    inf = Decimal("Infinity")
    intent = factory.intent(program["id"], user["id"], amount=inf, status="completed",
                            created_at=ago(minutes=5), completed_at=ago(minutes=4))
    settlement = factory.settlement(intent["id"], program["id"], amount=inf)
    factory.chain_tx(settlement["tx_hash"], program["treasury_address"], inf)
    factory.journal(program["id"], [("user:" + user["id"], "debit", "100"),
                                    ("treasury", "credit", "100")], intent_id=intent["id"])
    integrity = run_one(recon, "platform_data_integrity")
    assert integrity.status == "fail"
    assert {(r["table"], r["id"], r["problem"]) for r in integrity.rows} == {
        ("settlement_intents", intent["id"], "infinite_amount"),
        ("settlements", settlement["id"], "infinite_amount")}


def test_infinite_amounts_are_flagged_in_every_money_table(recon, factory, db_url):
    unconstrained(db_url)
    program = factory.program()
    user = factory.user(program["id"])
    inf, minus = Decimal("Infinity"), Decimal("-Infinity")
    txn = factory.journal(program["id"], [("treasury", "debit", inf), ("user:u1", "credit", inf)])
    legs = recon.db.fetch_all("SELECT id FROM public.ledger_entries WHERE transaction_id = %s "
                              "ORDER BY id", (txn,))
    intent = factory.intent(program["id"], user["id"], amount=inf, status="processing")
    commission = factory.commission(program["id"], "aff_inf", intent["id"], amount=inf)
    batch = factory.payout_batch(program["id"], total_amount=minus)
    integrity = run_one(recon, "platform_data_integrity")
    assert {(r["table"], r["id"], r["problem"]) for r in integrity.rows} == {
        ("ledger_entries", str(legs[0]["id"]), "infinite_amount"),
        ("ledger_entries", str(legs[1]["id"]), "infinite_amount"),
        ("settlement_intents", intent["id"], "infinite_amount"),
        ("commissions", commission["id"], "infinite_amount"),
        ("payout_batches", batch["id"], "negative_amount"),
        ("payout_batches", batch["id"], "infinite_amount")}
    # +Inf debit and +Inf credit never balance: Inf - Inf is NaN, not 0
    assert run_one(recon, "transaction_balance").status == "fail"
    assert run_one(recon, "ledger_balance").status == "fail"


def _specials_ledger(factory, db_url: str) -> list[tuple[str, str]]:
    """One unbalanced transaction per special difference, (its text, transaction id): NaN,
    Inf - 5, 5 - Inf, Inf - Inf (NaN: never a balance)."""
    unconstrained(db_url)
    program = factory.program(id="prog_special")
    legs = [("NaN", "5", "NaN"), ("Infinity", "5", "Infinity"), ("5", "Infinity", "-Infinity"),
            ("Infinity", "Infinity", "NaN")]
    return [(difference, factory.journal(program["id"], [("treasury", "debit", debit),
                                                         ("user:u1", "credit", credit)]))
            for debit, credit, difference in legs]


def _shown(result) -> list[tuple]:
    """The sample as (type, text) per value: NaN never equals NaN, its text and type do."""
    return [tuple((k, type(v).__name__, str(v)) for k, v in row.items()) for row in result.rows]


def test_every_engine_gives_a_special_difference_as_the_same_decimal(recon, factory, db_url):
    """The fused journal pass (the full SQL run) gave a NaN or infinite difference as the string
    'NaN' where the check's own file, the per-minute form and GX give Decimal('NaN')."""
    txns = _specials_ledger(factory, db_url)
    fused = recon.checks.run(only=None, store=False).by_name()["transaction_balance"]
    assert (fused.details or {}).get("fused") == "journal_pass"
    alone = run_one(recon, "transaction_balance")
    gx = recon.checks.run(only=["transaction_balance"], engine="gx", store=False).by_name()[
        "transaction_balance"]
    per_minute = recon.checks.run(fast_only=True, store=False).by_name()["transaction_balance"]
    by_txn = {row["transaction_id"]: row["difference"] for row in fused.rows}
    for text, txn in txns:
        value = by_txn[txn]
        assert isinstance(value, Decimal) and str(value) == text, (txn, value)
    assert _shown(fused) == _shown(alone) == _shown(gx) == _shown(per_minute)
    assert [c.to_json()["rows"] for c in (fused, alone, gx, per_minute)] == \
        [alone.to_json()["rows"]] * 4


def test_an_alert_names_a_nan_imbalance_in_words(db_url, factory):
    """The P0 page said "Ledger of program p (USD) is off by NaN USD" on Slack, Discord and
    PagerDuty: an ops lead reads the amount as unknown, and is told why."""
    receiver = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    try:
        recon = alerting_recon(db_url, receiver, PAGERDUTY_ROUTING_KEY="r" * 32,
                               PAGERDUTY_EVENTS_URL=receiver.base + "/pagerduty")
        factory.program(id="prog_nan")
        factory.journal("prog_nan", [("treasury", "debit", "NaN"), ("user:u1", "credit", "5")])
        [run] = monitor_only(recon, start_clock()).tick()
        assert run.status == "succeeded", run.error
        posts = {p["path"]: p["json"] for p in receiver.posts}
    finally:
        receiver.close()
    said = ("Ledger of program prog_nan (USD) is off by an unknown amount of USD "
            "(NaN: an amount is not a number)")
    assert said in posts[SLACK]["text"]
    assert said in posts[DISCORD]["content"]
    assert said in posts["/pagerduty"]["payload"]["summary"]
    for body in posts.values():
        assert "NaN USD" not in json.dumps(body)


@pytest.fixture
def console(db_url, monkeypatch, tmp_path):
    with running_api(db_url) as url:
        console_env(monkeypatch, db_url, url, tmp_path)
        yield


def test_the_overview_says_a_nan_sum_in_words_and_names_the_check(console, recon, factory):
    """The Overview's money at stake showed "NaN USD" (the SQL sums of a NaN amount) for the
    ledger imbalance, the stuck intents and the pending payouts."""
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "NaN"), ("fees", "credit", "1.00")])
    factory.journal(program["id"], [("treasury", "debit", "3"), ("fees", "credit", "1")],
                    currency="EUR")
    factory.payout_batch(program["id"], total_amount=Decimal("NaN"))
    factory.payout_batch(program["id"], total_amount=Decimal("100"))
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], amount=Decimal("NaN"), status="processing",
                   status_changed_at=ago(minutes=90))
    run = recon.checks.run()
    assert run.by_name()["platform_data_integrity"].status == "fail"  # the NaN rows, named
    at = app("root")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    unknown = "an unknown amount of USD (NaN: an amount is not a number)"
    assert f"Money at stake: **2.00 EUR · {unknown}**" in shown, shown
    assert "NaN USD" not in shown
    # the pending payouts: the stated total, and the NaN one counted apart (it hid the rest)
    assert "Money at stake: **100.00 USD**" in shown, shown
    assert "1 batch(es) whose total is not a number (NaN) or infinite, not in the money at " \
        "stake: platform_data_integrity names them." in shown, shown
    at = open_page(app("root"), "intents")
    assert unknown in texts(at) and "NaN USD" not in texts(at)



@pytest.mark.parametrize("debit, credit", [("Infinity", "1.00"), ("NaN", "1.00"),
                                           ("Infinity", "Infinity")])
def test_the_ledger_page_of_a_transaction_with_a_special_amount_says_why_it_cannot_help(
        console, factory, db_url, debit, credit):
    """An infinite leg made the Ledger page's correcting-entry proposal round Infinity to cents:
    a traceback (decimal.InvalidOperation) instead of the page."""
    unconstrained(db_url)
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", debit), ("fees", "credit", credit)])
    at = app("root")
    at.run()
    at.query_params["transaction"] = txn
    at.switch_page("views/ledger.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "its missing leg cannot be computed" in shown, shown
    if debit == credit:  # Inf - Inf is NaN, never a balance (Python's decimal raised)
        assert "Does not balance: debits − credits = an unknown amount of USD" in shown, shown


def _correct(api, program_id: str, txn: str):
    body = {"programId": program_id, "reason": "complete it", "transactionId": txn, "entries": [
        {"account": "treasury", "type": "credit", "amount": "5", "currency": "USD"},
        {"account": "user:u1", "type": "debit", "amount": "5", "currency": "USD"}]}
    return api.post("/admin/ledger/corrections", json=body, headers=ADMIN)


@pytest.mark.parametrize("debit, credit", [("NaN", "5"), ("Infinity", "Infinity"),
                                           ("Infinity", "5")])
def test_completing_a_transaction_with_a_special_amount_is_409_not_500(api, make, mdb,
                                                                      debit, credit):
    """The admin API answered 500 "internal error" (decimal.InvalidOperation comparing NaN with
    0) when asked to complete a transaction whose difference is NaN; an infinite one was
    "completed" into a transaction still off by Infinity's message."""
    unconstrained(mdb.url)
    program = make.program()
    txn = make.journal(program["id"], [("treasury", "debit", debit), ("user:u1", "credit", credit)])
    before = mdb.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"]
    r = _correct(api, program["id"], txn)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert f"transaction {txn}" in error and ("not a number" in error or "infinite" in error), error
    assert mdb.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == before


def test_completing_a_32_digit_transaction_by_its_last_micro_unit(api, make, mdb):
    """The API summed the transaction's legs in Python's default 28-digit context: a debit of
    10^31 + 0.000001 against a credit of 10^31 "already balances" (409), so the missing
    0.000001 could not be posted."""
    program = make.program()
    txn = make.journal(program["id"], [("treasury", "debit", "10000000000000000000000000000000.000001"),
                                       ("user:u1", "credit", "10000000000000000000000000000000")])
    body = {"programId": program["id"], "reason": "the last micro-unit", "transactionId": txn,
            "entries": [{"account": "suspense", "type": "credit", "amount": "0.000001",
                         "currency": "USD"}]}
    r = api.post("/admin/ledger/corrections", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert mdb.fetch_one(
        "SELECT sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS d "
        "FROM public.ledger_entries WHERE transaction_id = %s", (txn,))["d"] == 0


def test_force_reconcile_of_a_program_with_a_nan_amount_fails_not_500(api, make):
    """force-reconcile compared abs(debits - credits) with the tolerance in Python: with a NaN
    total that comparison raises, and the API answered 500 instead of the failing result."""
    program = make.program()
    make.journal(program["id"], [("treasury", "debit", "NaN"), ("user:u1", "credit", "5")])
    r = api.post("/admin/reconciliation/force-reconcile", json={"programId": program["id"]},
                 headers=ADMIN)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "fail", answer["message"]
    assert [b["difference"] for b in answer["balances"]] == ["NaN"]
    checks = {c["name"]: c for c in answer["checks"]}
    assert checks["ledger_balance"]["status"] == checks["transaction_balance"]["status"] == "fail"
    assert [row["difference"] for row in checks["ledger_balance"]["rows"]] == ["NaN"]


@pytest.mark.parametrize("special, said", [("NaN", "not a number (NaN)"),
                                           ("Infinity", "infinite (Infinity)")])
def test_an_export_refuses_a_special_amount_and_says_which(recon, db, factory, db_url, tmp_path,
                                                            special, said):
    """Parquet's decimal128 holds no NaN or infinity: the export refuses (nothing written), and
    said the amount had "more than 6 decimal places", sending the auditor after a value that is
    not there."""
    unconstrained(db_url)
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", special), ("user:u1", "credit", "1")],
                    created_at=EXPORT_DAY)
    with pytest.raises(ExportError) as refused:
        recon.exports.export(EXPORT_PERIOD, out_dir=tmp_path)
    message = refused.value.message
    assert message.startswith("ledger_entries.amount: ") and said in message, message
    assert "decimal places" not in message and "platform_data_integrity" in message, message
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("special", ["NaN", "Infinity"])
def test_a_batch_holding_a_special_commission_is_never_paid(api, make, mdb, special):
    """execute_batch paid each affiliate `sum(amount) HAVING sum(amount) > 0`: a NaN (or an
    infinite) commission passes `> 0`, so the batch was "executed", NaN written to the ledger
    (debit affiliate / credit treasury), its commissions marked paid, "NaN USD paid"."""
    unconstrained(mdb.url)
    made = payable_batch(make, affiliates=2, per_affiliate=1, status="approved")
    batch_id = made["batch"]["id"]
    mdb.execute("UPDATE public.commissions SET amount = %s::numeric WHERE id = (SELECT min(id) "
                "FROM public.commissions WHERE payout_batch_id = %s)", (special, batch_id))
    before = mdb.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"]
    r = api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert f"batch {batch_id}" in error and "nothing was paid" in error, error
    assert mdb.fetch_one("SELECT count(*) AS n FROM public.ledger_entries")["n"] == before
    assert mdb.fetch_one("SELECT status FROM public.payout_batches WHERE id = %s",
                         (batch_id,))["status"] == "approved"
    assert mdb.fetch_all("SELECT id FROM public.commissions WHERE payout_batch_id = %s "
                         "AND status = 'paid'", (batch_id,)) == []


@pytest.mark.parametrize("typed", ["1e200", "1E+95"])
def test_a_huge_amount_typed_in_the_correction_form_is_an_error_not_a_traceback(
        console, factory, typed):
    """The form checked "at most 6 decimals" by quantizing to 0.000001 in a 100-digit context:
    an amount past 94 integer digits raised decimal.InvalidOperation (a traceback on the page)."""
    program = factory.program()
    lone = factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                           ("affiliate:a", "credit", "9.99")])
    at = open_page(app(operator="root"), "ledger")
    at.text_input(key="txn_id").input(lone).run()
    at.text_input(key=f"corr_amount_0_{lone}").input(typed)
    at.button(key=f"FormSubmitter:correction-{lone}-Preview and post…").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(e.startswith("Not sent: entry 1: amount") and "32 digits" in e
               for e in errors), errors


def test_a_121_digit_amount_is_shown_exactly_not_a_traceback(console, factory, db_url):
    """A plain numeric column holds 1e120 (PostgreSQL's numeric: up to 131072 digits before the
    point): the console rounded it to cents in a 100-digit context (decimal.InvalidOperation:
    the Ledger page was a traceback), and the alerts' text fell back to "1E+120"."""
    unconstrained(db_url)
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "1e120"),
                                          ("user:u1", "credit", "1")])
    at = app("root")
    at.run()
    at.query_params["transaction"] = txn
    at.switch_page("views/ledger.py").run()
    assert not at.exception, [e.value for e in at.exception]
    nines = ",".join(["999"] * 40)  # 10^120 - 1, exact
    assert f"Does not balance: debits − credits = {nines}.00 USD" in texts(at)
    assert money_text(Decimal("1e120"), "USD") == "1" + ",000" * 40 + ".00 USD"
    # every stored decimal kept, never rounded to cents (tests/test_money_text_exact.py)
    assert money_text(Decimal("-5.005"), "") == "-5.005"


def test_a_32_digit_batch_is_paid_and_reported_exactly(api, make, mdb):
    """execute summed the affiliates' payouts for its answer in Python's 28-digit context:
    "totalPaid" of two 32-digit payouts came back rounded (the ledger itself was exact)."""
    made = payable_batch(make, affiliates=2, per_affiliate=1, status="approved")
    batch_id = made["batch"]["id"]
    big = "10000000000000000000000000000000.000001"
    mdb.execute("UPDATE public.commissions SET amount = %s::numeric WHERE payout_batch_id = %s",
                (big, batch_id))
    # the batch as it was approved (execute pays only the approved total)
    mdb.execute("UPDATE public.payout_batches SET total_amount = %s::numeric WHERE id = %s",
                ("20000000000000000000000000000000.000002", batch_id))
    r = api.post(f"/admin/payouts/batch/{batch_id}/execute", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["totalPaid"] == "20000000000000000000000000000000.000002"
    assert "20000000000000000000000000000000.000002 USD paid" in r.json()["message"]


def weekly_reminder_text(db_url: str, factory, totals: list[str]) -> str:
    """The weekly payout reminder's Slack text, for batches of these totals waiting 30 hours."""
    receiver = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    try:
        recon = alerting_recon(db_url, receiver)
        program = factory.program(currency="USD")
        now = datetime(2026, 11, 30, 9, 1, tzinfo=timezone.utc)  # a Monday, after 09:00 UTC
        for n, total in enumerate(totals):
            factory.payout_batch(program["id"], id=f"batch_{n}", total_amount=Decimal(total),
                                 created_at=now - timedelta(hours=30))
        weekly = [s for s in default_jobs() if s.name == "weekly_payout_reminder"]
        [outcome] = Scheduler(recon.job_services, weekly, ManualClock(now)).tick()
        assert outcome.status == "succeeded", outcome.error
        [slack] = receiver.delivered(SLACK)
        return slack["text"]
    finally:
        receiver.close()


def test_the_weekly_payout_reminder_totals_32_digit_batches_exactly(db_url, factory):
    """The reminder summed the waiting batches in Python's 28-digit context: two batches of
    10^31 + 0.01 were "20,000,000,000,000,000,000,000,000,000,000.00 USD" (0.02 lost)."""
    text = weekly_reminder_text(db_url, factory, ["10000000000000000000000000000000.01"] * 2)
    assert "2 payout batches waiting (20,000,000,000,000,000,000,000,000,000,000.02 USD)" in \
        text, text


def _edited_export(recon, factory, tmp_path, name: str, figure: str, value: str):
    program = factory.program()["id"]
    factory.journal(program, [("treasury", "debit", "5"), ("user:u1", "credit", "3")],
                    created_at=EXPORT_DAY)
    folder = recon.exports.export(EXPORT_PERIOD, out_dir=tmp_path / "out").directory
    copy = tmp_path / name / EXPORT_PERIOD
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["control_totals"][0][figure] = value
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return copy


@pytest.mark.parametrize("value", ["0.000000", "NaN", "-0", "-2.000000"])
def test_export_verify_checks_the_stated_difference(recon, factory, tmp_path, value):
    """verify recomputed debits, credits and entry_count but never the manifest's stated
    difference: an export of books off by 2.000000 whose manifest says 0.000000 (or NaN)
    verified as intact (exit 2 only for the file's unbalanced transaction)."""
    copy = _edited_export(recon, factory, tmp_path, f"diff{value}", "difference", value)
    report = ExportService.verify(copy)
    assert report.exit_code == 1, report.mismatches
    assert f"difference stated {value}, the ledger file's debits − credits are 2.000000" in \
        str(report.mismatches)


@pytest.mark.parametrize("figure", ["debits", "credits", "difference"])
def test_export_verify_of_a_signalling_nan_total_is_altered_not_a_traceback(
        recon, factory, tmp_path, cli_env, figure):
    """A manifest total edited to "sNaN": comparing it raised decimal.InvalidOperation."""
    copy = _edited_export(recon, factory, tmp_path, f"snan{figure}", figure, "sNaN")
    done = subprocess.run([sys.executable, "-m", "sge_recon", "export", "verify", str(copy)],
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{figure} stated sNaN" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_the_ledger_pages_balances_are_exact_at_32_digits(recon, factory):
    """The Ledger page's balances per program summed in Python's 28-digit context: debits of
    10^31 + 0.05 against credits of 10^31 showed a difference of 0 beside the check's mark."""
    program = factory.program(id="prog_wide")
    factory.journal(program["id"], [("treasury", "debit", "10000000000000000000000000000000.05"),
                                    ("user:u1", "credit", "10000000000000000000000000000000")])
    [row] = recon.console.ledger_balances()
    assert row["total_debits"] == Decimal("10000000000000000000000000000000.05")
    assert row["difference"] == Decimal("0.05")


def test_the_stuck_money_of_a_result_without_totals_is_exact(recon, factory):
    """A GX result has no totals: the Intents page summed its rows in Python's 28-digit
    context, and two stuck intents of 10^31 + 0.01 lost their cents."""
    program = factory.program()
    user = factory.user(program["id"])
    for _ in range(2):
        factory.intent(program["id"], user["id"], status="processing",
                       amount=Decimal("10000000000000000000000000000000.01"),
                       status_changed_at=ago(minutes=90))
    [result] = recon.checks.run(only=["stuck_intents"], engine="gx", store=False).checks
    assert result.totals("stuck") is None and result.status == "fail"
    assert stuck_list(result).money == {"USD": Decimal("20000000000000000000000000000000.02")}


@pytest.mark.parametrize("total, commission", [("Infinity", "Infinity"), ("NaN", "NaN")])
def test_a_batch_of_a_special_total_is_never_consistent(recon, factory, db_url, total,
                                                         commission):
    """The Payouts page called a batch of total Infinity whose commissions sum to Infinity
    "consistent" (Infinity equals Infinity), so its Pay button was offered."""
    unconstrained(db_url)
    made = payable_batch(factory, affiliates=1, per_affiliate=1, status="approved")
    batch_id = made["batch"]["id"]
    recon.db.execute("UPDATE public.payout_batches SET total_amount = %s::numeric "
                     "WHERE id = %s", (total, batch_id))
    recon.db.execute("UPDATE public.commissions SET amount = %s::numeric "
                     "WHERE payout_batch_id = %s", (commission, batch_id))
    found = recon.console.payout_batch(batch_id)
    assert found["consistent"] is False
    assert any("not a number" in p or "infinite" in p for p in found["problems"]), \
        found["problems"]
