"""The console faced with what a real platform holds: numeric 'NaN' and 32-digit amounts
(numeric(38,6) allows both), and ids, names and errors that look like Markdown, LaTeX or
Streamlit directives. Every page renders (no exception), and what it shows is the stored value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .console_support import app, console_env, open_page, texts
from .factories import ago
from .platform_helpers import running_api


@pytest.fixture
def api(db_url):
    with running_api(db_url) as url:
        yield url


@pytest.fixture
def console(db_url, api, monkeypatch, tmp_path):
    console_env(monkeypatch, db_url, api, tmp_path)


def stuck(factory, program, amount, **kw):
    user = factory.user(program["id"])
    return factory.intent(program["id"], user["id"], amount=amount, status="processing",
                          status_changed_at=ago(minutes=90), **kw)


def test_a_nan_amount_at_stake_does_not_take_the_overview_and_incidents_down(console, factory):
    program = factory.program()
    stuck(factory, program, Decimal("NaN"))
    stuck(factory, program, Decimal("250.00"), currency="EUR")
    factory.incident(title="Unstated", money_at_stake=Decimal("NaN"))
    factory.incident(kind="stuck_intents", title="Stated", money_at_stake=Decimal("5.00"))
    at = app("root")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    # the stuck intents' alert, as stored: the NaN in words
    assert "an unknown amount of USD (NaN: an amount is not a number)" in shown
    assert "250.00 EUR" in shown
    # the unstated amount ranks first: nobody can say it is small
    assert shown.index("Unstated") < shown.index("Stated")
    open_page(at, "incidents")


def open_transaction(at, txn: str):
    at.run()
    at.query_params["transaction"] = txn
    at.switch_page("views/ledger.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_32_digit_one_sided_transaction_is_shown_and_completed_exactly(console, factory):
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "10000000000000000000000000000000"),
                                          ("fees", "credit", "0.000001")])
    at = open_transaction(app("root"), txn)
    off = "9,999,999,999,999,999,999,999,999,999,999.999999 USD"
    assert f"Does not balance: debits − credits = {off}" in texts(at)
    # the proposed missing leg is exactly the difference (10^31 would leave 0.000001 unbalanced)
    amounts = [t.value for t in at.text_input if t.key and t.key.startswith("corr_amount_")]
    assert "9999999999999999999999999999999.999999" in amounts, amounts


def test_a_transaction_with_a_nan_amount_is_shown_not_a_traceback(console, factory):
    program = factory.program()
    txn = factory.journal(program["id"], [("treasury", "debit", "NaN"),
                                          ("fees", "credit", "1.00")])
    at = open_transaction(app("root"), txn)
    assert "Does not balance: debits − credits = an unknown amount of USD (NaN: an amount is " \
        "not a number)" in texts(at)


# An id and a currency code as a platform may hold them: between two unescaped $ Markdown sets
# LaTeX (the amount between them turns into italic maths), ** sets bold, […](…) a link.
BATCH_ID = "pay$1 **B** [x](http://evil.example)"
JOINER = "\u2060"  # an invisible word joiner: no autolink of http:// (see console_format.md)
CURRENCY = "U$D"


def hostile_batch(factory) -> tuple[dict, dict]:
    """An approved batch BATCH_ID of 1.50 CURRENCY for one payable commission; (program, user)."""
    program = factory.program(currency=CURRENCY)
    batch = factory.payout_batch(program["id"], id=BATCH_ID, status="approved",
                                 affiliate_count=1, total_amount=Decimal("1.50"))
    affiliate, user = factory.affiliate(program["id"]), factory.user(program["id"])
    intent = factory.intent(program["id"], user["id"], currency=CURRENCY)
    factory.commission(program["id"], affiliate["id"], intent["id"], amount=Decimal("1.50"),
                       status="payable", payout_batch_id=batch["id"])
    return program, user


def shown_markdown(at) -> list[str]:
    out = [str(e.value) for kind in ("markdown", "caption", "warning", "error", "success", "info")
           for e in getattr(at, kind)]
    return out + [str(b.label) for b in at.button]


def test_the_pay_dialog_names_the_batch_and_amount_as_stored(console, factory):
    hostile_batch(factory)
    at = app("root")
    at.run()
    at.query_params["id"] = BATCH_ID
    at.switch_page("views/payouts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="execute_batch").click().run()
    dialog = [m for m in shown_markdown(at) if m.startswith("Pay batch")]
    assert dialog == [r"Pay batch **pay\$1 \*\*B\*\* \[x\](http" + JOINER + r"://evil.example)**: "
                      r"1.50 U\$D to 1 affiliates? This moves money."], dialog


def test_an_intent_id_reads_as_stored_on_its_retry_button_and_dialog(console, factory):
    program = factory.program()
    intent = stuck(factory, program, Decimal("10.00"), id="int $1 and $2 **x**")
    at = app("ada")
    at.run()
    at.query_params["id"] = intent["id"]
    at.switch_page("views/intents.py").run()
    assert not at.exception, [e.value for e in at.exception]
    escaped = r"int \$1 and \$2 \*\*x\*\*"  # a button label renders Markdown and LaTeX too
    assert at.button(key="retry_stuck").label == f"Retry intent {escaped}…"
    at.button(key="retry_stuck").click().run()
    assert f"Re-enqueue intent **{escaped}** for processing?" in " ".join(shown_markdown(at))


def test_who_paused_the_queue_and_who_acknowledged_an_incident_read_as_stored(console, factory):
    name = "ops [sign in](http://evil.example) $1 and $2"
    escaped = r"ops \[sign in\](http" + JOINER + r"://evil.example) \$1 and \$2"
    with factory.db.transaction() as conn:
        conn.execute("UPDATE public.queue_control SET paused = true, changed_by = %s", (name,))
    incident = factory.incident(acknowledged_by=name, status="acknowledged")
    at = open_page(app("root"), "queue")
    paused = [w.value for w in at.warning if "paused" in w.value]
    assert paused and f"by {escaped})" in paused[0], paused
    at.query_params["id"] = str(incident["id"])
    at.switch_page("views/incidents.py").run()
    assert f"acknowledged by {escaped}" in texts(at)


def test_what_a_backslash_cannot_escape_is_broken_invisibly(console, factory):
    """Streamlit turns :material/…: and :emoji: into icons, :red into a colour directive that
    swallows the word, http://, www. and e-mail addresses into links, and _x_ into italics,
    backslash or not (checked in Chromium): none of them may come out of a platform's error."""
    program = factory.program()
    endpoint = factory.endpoint(program["id"])
    error = ("HTTP 500: :material/home: :smile: :red alarm see http://evil.example/p "
             "www.evil.example ops@evil.example _now_ 12:30 prog_1")
    delivery = factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                                last_error=error, last_attempt_at=ago(minutes=1))
    at = app("ada")
    at.run()
    at.query_params["id"] = delivery["id"]
    at.switch_page("views/webhooks.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [c.value for c in at.caption if c.value.startswith("Last error")]
    assert len(shown) == 1
    assert shown[0].endswith(
        f"HTTP 500: :{JOINER}material/home: :{JOINER}smile: \\:red alarm see http{JOINER}://"
        f"evil.example/p www{JOINER}.evil.example ops{JOINER}@evil.example \\_now\\_ 12:30 "
        "prog_1"), shown
    assert shown[0].replace(JOINER, "").replace("\\", "").endswith(error)  # reads the same


def test_a_batch_short_by_a_millionth_of_a_32_digit_total_does_not_add_up(console, factory):
    """28 significant digits (Python's default) would round the sum of the lines to the batch
    total: the batch would read as consistent and could be approved and executed."""
    program = factory.program()
    batch = factory.payout_batch(program["id"], affiliate_count=2,
                                 total_amount=Decimal("10000000000000000000000000000000"))
    user = factory.user(program["id"])
    for amount in ("5000000000000000000000000000000", "4999999999999999999999999999999.999999"):
        affiliate = factory.affiliate(program["id"])
        intent = factory.intent(program["id"], user["id"])
        factory.commission(program["id"], affiliate["id"], intent["id"], amount=Decimal(amount),
                           status="payable", payout_batch_id=batch["id"])
    at = app("alice")  # an approver
    at.run()
    at.query_params["id"] = batch["id"]
    at.switch_page("views/payouts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error if "does not add up" in e.value]
    assert errors and ("the batch total 10,000,000,000,000,000,000,000,000,000,000.00 differs "
                       "from the sum of its commissions "
                       "9,999,999,999,999,999,999,999,999,999,999.999999 by 0.000001"
                       in errors[0]), errors
    assert at.button(key="approve_batch").disabled


def test_money_at_stake_from_sample_rows_is_summed_exactly():
    """A result without stored totals (Great Expectations, a fused query): the Overview sums its
    rows; 10^31 + 0.000001 must not round to 10^31."""
    from sge_recon.checks.model import CheckResult
    from sge_recon.console.overview import per_currency

    result = CheckResult("stuck_intents", "fail", "P1", 2, None, engine="gx", rows=[
        {"amount": Decimal("10000000000000000000000000000000"), "currency": "USD"},
        {"amount": Decimal("0.000001"), "currency": "USD"}])
    # (the finite sums, and the NaN / infinite amounts counted apart: none here)
    assert per_currency(result, "stuck", "amount") == ({
        "USD": Decimal("10000000000000000000000000000000.000001")}, {})
    off = CheckResult("ledger_balance", "fail", "P0", 2, None, engine="gx", rows=[
        {"difference": Decimal("-10000000000000000000000000000000"), "currency": "USD"},
        {"difference": Decimal("0.000001"), "currency": "USD"}])
    assert per_currency(off, "off_by", "difference") == ({
        "USD": Decimal("10000000000000000000000000000000.000001")}, {})


def test_invisible_controls_in_an_id_or_error_are_shown_not_obeyed(console, factory):
    """A right-to-left override reverses what follows it on screen (Chromium shows
    "batch_\\u202e99_tnuocca" as "batch_account_99"); a zero-width space makes two ids look the
    same. Both are shown as ⟨U+…⟩, in sentences and in table cells."""
    program = factory.program()
    batch = factory.payout_batch(program["id"], id="batch_\u202e99_tnuocca")
    stuck(factory, program, Decimal("1.00"), id="int_7\u200b", last_error="boom\u202eyllaer")
    at = app("root")
    at.run()
    at.query_params["id"] = batch["id"]
    at.switch_page("views/payouts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.startswith(r"**batch\_⟨U+202E⟩99_tnuocca**") for m in shown_markdown(at))
    at = open_page(app("root"), "intents")
    table = [d.value for d in at.dataframe if "last_error" in d.value.columns][0]
    assert list(table["last_error"]) == ["boom⟨U+202E⟩yllaer"]


def test_the_overview_names_an_incidents_money_as_the_incidents_page_does(console, factory):
    """Ranked by the largest amount at stake — so the amount it was ranked by is shown, also for
    an incident that keeps it only in money_at_stake; none is said for one without money."""
    factory.incident(title="Old imbalance", money_at_stake=Decimal("10000000000000000000000000000000"))
    factory.incident(kind="worker_down", priority="P1", title="Workers down")
    at = app("root")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    lines = [m.value for m in at.markdown if m.value.startswith("- **P")]
    assert lines[0].endswith("Old imbalance · at stake "
                             "**10,000,000,000,000,000,000,000,000,000,000.00 (currency not "
                             "recorded)**"), lines
    assert lines[1].endswith("Workers down"), lines  # no "at stake —"


def test_a_picker_shows_an_ids_hidden_controls_and_opens_the_stored_id(console, factory):
    program = factory.program()
    intent = stuck(factory, program, Decimal("1.00"), id="int_\u202e99_x")
    at = open_page(app("ada"), "intents")
    picker = at.selectbox(key="stuck_choice")
    assert picker.options == ["int_⟨U+202E⟩99_x"]
    picker.select_index(0).run()
    assert at.query_params["id"] in (intent["id"], [intent["id"]])  # the stored id, not the shown


def test_every_list_of_platform_ids_shows_hidden_controls(console, factory):
    """Filters and pickers of endpoints, event types, programs and accounts: an id with a
    right-to-left override or a zero-width space is shown with it (⟨U+…⟩), the stored id chosen."""
    program = factory.program(id="prog_\u202e1")
    endpoint = factory.endpoint(program["id"], id="ep_\u200b1")
    factory.delivery(endpoint["id"], status="failed", event_type="settle\u202e.x")
    factory.journal(program["id"], [("fees\u200b", "debit", "1"), ("treasury", "credit", "1")])
    at = open_page(app("root"), "webhooks")
    assert at.selectbox(key="filter_endpoint").options == ["any", "ep_⟨U+200B⟩1"]
    assert at.selectbox(key="filter_event").options == ["any", "settle⟨U+202E⟩.x"]
    at.selectbox(key="endpoint_choice").select_index(0).run()
    assert at.button(key="toggle_endpoint").label == "Disable endpoint ep\\_⟨U+200B⟩1…"
    at = open_page(app("root"), "ledger")
    assert at.selectbox(key="reconcile_program").options == ["prog_⟨U+202E⟩1"]
    accounts = at.selectbox(key="corr_account_0").options
    assert "fees⟨U+200B⟩" in accounts, accounts


def test_a_nan_batch_total_does_not_hide_what_the_other_batches_wait_to_be_paid(console, factory):
    program = factory.program()
    for total in ("10000000000000000000000000000000", "NaN", "0.000001"):
        factory.payout_batch(program["id"], total_amount=Decimal(total))
    at = open_page(app("root"), "payouts")
    waiting = [m.value for m in at.markdown if m.value.startswith("Waiting to be paid")]
    assert waiting == ["Waiting to be paid: **10,000,000,000,000,000,000,000,000,000,000.000001 "
                       "USD** and **1** batch(es) whose total is not a number (NaN) or infinite"
                       ], waiting


def test_an_incident_note_with_a_right_to_left_override_is_shown_not_obeyed(console, factory):
    """Notes are plain text (no Markdown), but an override inside one still reversed what
    followed it: "paid ‮LLA_DENRUTER" read as "paid RETURNED_ALL"."""
    incident = factory.incident(notes="paid \u202eLLA_DENRUTER")
    at = app("root")
    at.run()
    at.query_params["id"] = str(incident["id"])
    at.switch_page("views/incidents.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.text] == ["paid ⟨U+202E⟩LLA_DENRUTER"]
