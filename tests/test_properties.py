"""Property-based tests (Hypothesis) of the checks against a small independent oracle.

Random ledgers, affiliate trees and queues, some with randomly planted faults, go into the real
database; the real checks (Recon.checks.run, SQL engine) must report exactly what a plain-Python
oracle written here computes: the same failing rows, the same value and status — and nothing at
all on clean data. One database per test function; every example starts from TRUNCATE.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sge_recon.context import Recon

from .conftest import settings_for
from .invariants import INVARIANT_FIGURES

EXAMPLES = settings(max_examples=30, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
PROGRAMS = ("prog_a", "prog_b")
CURRENCIES = ("USD", "EUR")
CENT = Decimal("0.01")


def run(recon: Recon, *names: str) -> dict:
    result = recon.checks.run(only=list(names), store=False)
    return {c.name: c for c in result.checks}


def reset(db, *tables: str) -> None:
    db.execute(f"TRUNCATE {', '.join('public.' + t for t in tables)} RESTART IDENTITY CASCADE")


# -- ledgers ----------------------------------------------------------------------------------------
# at least 5.00, so that a credit leg (>= 2.50 with two legs) stays positive after any planted delta
money = st.decimals(min_value=Decimal("5.00"), max_value=Decimal("5000.00"), places=2)
# planted imbalances: cents, sub-cent noise (below the per-program tolerance but still an
# unbalanced transaction), a micro-unit, and ordinary amounts, either sign
deltas = st.sampled_from([Decimal("0.01"), Decimal("-0.01"), Decimal("0.005"), Decimal("-0.004"),
                          Decimal("0.000001"), Decimal("1.23"), Decimal("-1.99")])
transaction = st.fixed_dictionaries({
    "program": st.sampled_from(PROGRAMS),
    "currency": st.sampled_from(CURRENCIES),
    "debits": st.lists(money, min_size=1, max_size=3),
    "credit_legs": st.integers(min_value=1, max_value=2),
    "delta": st.one_of(st.just(Decimal(0)), st.just(Decimal(0)), deltas),
})


def journal_rows(txns: list[dict]) -> list[tuple]:
    """(program, transaction_id, account, type, amount, currency) rows; a planted delta is taken
    off the first credit leg, so the transaction is off by exactly that much."""
    rows = []
    for n, t in enumerate(txns):
        tid = f"txn_{n:03d}"
        for k, amount in enumerate(t["debits"]):
            rows.append((t["program"], tid, f"user:u{k}", "debit", amount, t["currency"]))
        total = sum(t["debits"])
        first = (total / t["credit_legs"]).quantize(CENT)
        legs = [first] * (t["credit_legs"] - 1) + [total - first * (t["credit_legs"] - 1)]
        legs[0] -= t["delta"]  # debits - credits = delta
        for k, amount in enumerate(legs):
            rows.append((t["program"], tid, "treasury" if k == 0 else "fees", "credit", amount,
                         t["currency"]))
    return rows


def ledger_oracle(rows: list[tuple], tolerance: Decimal):
    per_program: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    per_txn: dict = defaultdict(Decimal)
    for program, tid, _account, kind, amount, currency in rows:
        per_program[(program, currency)][0 if kind == "debit" else 1] += amount
        per_txn[(tid, program, currency)] += amount if kind == "debit" else -amount
    programs = {(p, c, d, cr, d - cr) for (p, c), (d, cr) in per_program.items()
                if abs(d - cr) >= tolerance}
    txns = {(t, p, c, diff) for (t, p, c), diff in per_txn.items() if diff != 0}
    return programs, txns


@EXAMPLES
@given(txns=st.lists(transaction, min_size=0, max_size=25))
def test_ledger_checks_find_exactly_the_planted_imbalances(db, db_url, txns):
    recon = Recon(settings_for(db_url))
    reset(db, "ledger_entries")
    rows = journal_rows(txns)
    with db.transaction() as conn:
        conn.cursor().executemany(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount,"
            " currency) VALUES (%s, %s, %s, %s, %s, %s)", rows)
    programs, txns_off = ledger_oracle(rows, recon.settings.LEDGER_TOLERANCE)
    planted = {f"txn_{n:03d}" for n, t in enumerate(txns) if t["delta"]}
    assert {t for t, *_ in txns_off} == planted  # the oracle agrees with what was planted

    found = run(recon, "ledger_balance", "transaction_balance")
    balance, per_txn = found["ledger_balance"], found["transaction_balance"]
    assert {(r["program_id"], r["currency"], r["total_debits"], r["total_credits"],
             r["difference"]) for r in balance.rows} == programs
    assert {(r["transaction_id"], r["program_id"], r["currency"], r["difference"])
            for r in per_txn.rows} == txns_off
    assert per_txn.failing_rows == len(txns_off) and balance.failing_rows == len(programs)
    assert balance.status == ("fail" if programs else "pass")
    assert per_txn.status == ("fail" if txns_off else "pass")
    INVARIANT_FIGURES["property examples"] += 1
    INVARIANT_FIGURES["planted faults found"] += len(planted)


# -- affiliate trees --------------------------------------------------------------------------------
@st.composite
def forests(draw):
    """Affiliates in two programs; each parent is none, another affiliate (maybe of the other
    program, maybe closing a cycle), or a missing id (an orphan)."""
    n = draw(st.integers(min_value=0, max_value=14))
    affiliates = []
    for i in range(n):
        kind = draw(st.sampled_from(["root", "root", "parent", "parent", "parent", "ghost"]))
        if kind == "parent" and n > 1:
            parent = f"a{draw(st.integers(min_value=0, max_value=n - 1))}"
        elif kind == "ghost":
            parent = f"ghost{draw(st.integers(min_value=0, max_value=3))}"
        else:
            parent = None
        affiliates.append({"id": f"a{i}", "program_id": draw(st.sampled_from(PROGRAMS)),
                           "parent_id": parent})
    return affiliates


def tree_oracle(affiliates: list[dict]) -> set[tuple[str, str]]:
    by_id = {a["id"]: a for a in affiliates}
    problems = set()
    for a in affiliates:
        parent = a["parent_id"]
        if parent is None:
            continue
        if parent not in by_id:
            problems.add((a["id"], "orphan"))
        elif by_id[parent]["program_id"] != a["program_id"]:
            problems.add((a["id"], "cross_program"))
        seen, node = set(), parent  # walk up: is a its own ancestor?
        while node in by_id and node not in seen:
            if node == a["id"]:
                problems.add((a["id"], "cycle"))
                break
            seen.add(node)
            node = by_id[node]["parent_id"]
    return problems


@pytest.fixture
def programs(factory):
    return [factory.program(id=p) for p in PROGRAMS]


@EXAMPLES
@given(affiliates=forests())
def test_affiliate_tree_finds_every_cycle_orphan_and_cross_program_link(db, db_url, programs,
                                                                        affiliates):
    recon = Recon(settings_for(db_url))
    reset(db, "affiliates")
    with db.transaction() as conn:
        conn.cursor().executemany(
            "INSERT INTO public.affiliates (id, program_id, code, parent_id)"
            " VALUES (%(id)s, %(program_id)s, %(id)s, %(parent_id)s)", affiliates)
    expected = tree_oracle(affiliates)
    check = run(recon, "affiliate_tree")["affiliate_tree"]
    assert {(r["affiliate_id"], r["problem"]) for r in check.rows} == expected
    assert all(r["program_id"] == next(a["program_id"] for a in affiliates
                                       if a["id"] == r["affiliate_id"]) for r in check.rows)
    assert check.failing_rows == len(expected)
    assert check.status == ("fail" if expected else "pass")
    INVARIANT_FIGURES["property examples"] += 1
    INVARIANT_FIGURES["planted faults found"] += len(expected)


# -- queues -----------------------------------------------------------------------------------------
job = st.tuples(st.sampled_from(["settlement", "settlement", "payouts"]),
                st.sampled_from(["waiting", "active", "completed", "failed", "delayed"]))


@EXAMPLES
@given(jobs=st.lists(job, max_size=30),
       backlog=st.sampled_from([0, 0, 50, 99, 100, 101, 499, 500, 501, 650]))
def test_queue_depth_counts_waiting_settlement_jobs_and_grades_them(db, db_url, jobs, backlog):
    recon = Recon(settings_for(db_url))
    reset(db, "jobs")
    with db.transaction() as conn:
        conn.cursor().executemany("INSERT INTO public.jobs (queue, status) VALUES (%s, %s)", jobs)
        conn.execute("INSERT INTO public.jobs (queue, status) SELECT 'settlement', 'waiting'"
                     " FROM generate_series(1, %s)", (backlog,))
    depth = backlog + sum(1 for queue, status in jobs if (queue, status) == ("settlement",
                                                                             "waiting"))
    s = recon.settings
    expected = ("fail" if depth > s.QUEUE_DEPTH_FAIL else
                "warn" if depth >= s.QUEUE_DEPTH_WARN else "pass")
    check = run(recon, "queue_depth")["queue_depth"]
    assert check.value == depth
    assert check.status == expected
    INVARIANT_FIGURES["property examples"] += 1
    INVARIANT_FIGURES["planted faults found"] += expected != "pass"


# -- commissions ------------------------------------------------------------------------------------
RATES = {"prog_a": (Decimal("0.01"), Decimal("0.005")), "prog_b": (Decimal("0.025"),
                                                                   Decimal("0.0125"))}
commission = st.fixed_dictionaries({
    "program": st.sampled_from(PROGRAMS),
    "level": st.sampled_from([1, 2]),
    "base": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
    # planted: the other level's rate, or a typo'd rate; an amount off by a cent, truncated
    # instead of rounded half-up, or rounded to more places
    "rate_fault": st.sampled_from([None, None, None, "other_level", "typo"]),
    "amount_fault": st.sampled_from([None, None, None, "cent", "truncated", "unrounded"]),
})


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding="ROUND_HALF_UP")


def planted_commission(n: int, c: dict) -> tuple[dict, set]:
    direct, parent = RATES[c["program"]]
    right = direct if c["level"] == 1 else parent
    rate = {None: right, "other_level": parent if c["level"] == 1 else direct,
            "typo": right * 10}[c["rate_fault"]]
    exact = c["base"] * rate
    amount = {None: half_up(exact), "cent": half_up(exact) + CENT,
              "truncated": exact.quantize(CENT, rounding="ROUND_DOWN"),
              "unrounded": exact.quantize(Decimal("0.000001"), rounding="ROUND_HALF_UP")}[
        c["amount_fault"]]
    cid = f"com_{n:03d}"
    problems = set()
    if rate != right:
        problems.add((cid, "rate"))
    if amount != half_up(exact):  # judged with the commission's own rate (§5)
        problems.add((cid, "amount"))
    row = {"id": cid, "program_id": c["program"], "affiliate_id": "aff_x", "intent_id": "int_x",
           "level": c["level"], "rate": rate, "base_amount": c["base"], "amount": amount}
    return row, problems


@pytest.fixture
def rated_programs(factory):
    return [factory.program(id=p, direct_commission_rate=RATES[p][0],
                            parent_commission_rate=RATES[p][1]) for p in PROGRAMS]


@EXAMPLES
@given(commissions=st.lists(commission, max_size=25))
def test_commission_accuracy_finds_exactly_the_wrong_rates_and_amounts(db, db_url, rated_programs,
                                                                       commissions):
    recon = Recon(settings_for(db_url))
    reset(db, "commissions")
    rows, expected = [], set()
    for n, c in enumerate(commissions):
        row, problems = planted_commission(n, c)
        rows.append(row)
        expected |= problems
    with db.transaction() as conn:
        conn.cursor().executemany(
            "INSERT INTO public.commissions (id, program_id, affiliate_id, intent_id, level, rate,"
            " base_amount, amount, status) VALUES (%(id)s, %(program_id)s, %(affiliate_id)s,"
            " %(intent_id)s, %(level)s, %(rate)s, %(base_amount)s, %(amount)s, 'accrued')", rows)
    check = run(recon, "commission_accuracy")["commission_accuracy"]
    assert {(r["commission_id"], r["problem"]) for r in check.rows} == expected
    for r in check.rows:
        if r["problem"] == "amount":
            row = next(x for x in rows if x["id"] == r["commission_id"])
            assert r["expected"] == half_up(row["base_amount"] * row["rate"])
            assert r["actual"] == row["amount"]
    assert check.failing_rows == len(expected)
    assert check.status == ("fail" if expected else "pass")
    INVARIANT_FIGURES["property examples"] += 1
    INVARIANT_FIGURES["planted faults found"] += len(expected)


# -- hostile ledgers: NULLs, odd values, extreme amounts ------------------------------------------
# A real platform's schema may lack the contract's NOT NULL and CHECK constraints: whatever rows it
# holds, the ledger checks never error (no numeric overflow) and never all pass while something
# is wrong; platform_data_integrity names exactly the rows the contract rules out.
HUGE = Decimal("99999999999999999999999999999999.999999")  # the largest numeric(38,6)
hostile_amount = st.one_of(
    st.decimals(min_value=Decimal("0.000001"), max_value=HUGE, places=6),
    st.sampled_from([HUGE, Decimal("0.000001"), Decimal("1E+31")]))
mutation = st.sampled_from([None, None, None, None, "null_amount", "null_currency",
                            "non_positive_amount", "zero", "unknown_type", "null_program",
                            "future"])
hostile_txn = st.fixed_dictionaries({
    "program": st.sampled_from(PROGRAMS),
    "currency": st.sampled_from(CURRENCIES),
    "amount": hostile_amount,
    "delta": st.sampled_from([Decimal(0), Decimal(0), Decimal("0.000001"), Decimal("1"), HUGE]),
    "mutation": mutation,
})


def hostile_rows(txns: list[dict]) -> list[dict]:
    """Two legs per transaction (debit amount, credit amount - delta), then one leg mutated."""
    with localcontext() as ctx:
        ctx.prec = 100  # 38-digit amounts: the default 28 digits would round them
        return _hostile_rows(txns)


def _hostile_rows(txns: list[dict]) -> list[dict]:
    rows = []
    for n, t in enumerate(txns):
        tid = f"txn_{n:03d}"
        credit = t["amount"] - t["delta"] if t["amount"] > t["delta"] else t["amount"]
        legs = [{"program_id": t["program"], "transaction_id": tid, "account": "treasury",
                 "type": "debit", "amount": t["amount"], "currency": t["currency"],
                 "future": False},
                {"program_id": t["program"], "transaction_id": tid, "account": "user:u1",
                 "type": "credit", "amount": credit, "currency": t["currency"], "future": False}]
        leg, m = legs[1], t["mutation"]
        if m == "null_amount":
            leg["amount"] = None
        elif m == "null_currency":
            leg["currency"] = None
        elif m == "non_positive_amount":
            leg["amount"] = -leg["amount"]
        elif m == "zero":
            leg["amount"] = Decimal(0)
        elif m == "unknown_type":
            leg["type"] = "refund"
        elif m == "null_program":
            leg["program_id"] = None
        elif m == "future":
            leg["future"] = True
        rows += legs
    return rows


def hostile_oracle(rows: list[dict]) -> tuple[set, bool]:
    """(the integrity problems by row number, whether the books are wrong in any way)."""
    problems, wrong = set(), False
    with localcontext() as ctx:
        ctx.prec = 100
        per_txn: dict = defaultdict(Decimal)
        for n, r in enumerate(rows, start=1):
            if r["amount"] is None:
                problems.add((n, "null_amount"))
            elif r["amount"] <= 0:
                problems.add((n, "non_positive_amount"))
            if r["currency"] is None:
                problems.add((n, "null_currency"))
            if r["type"] not in ("debit", "credit"):
                problems.add((n, "unknown_type"))
            if r["program_id"] is None:
                problems.add((n, "null_program"))
            if r["future"]:
                problems.add((n, "future_timestamp"))
            sign = 1 if r["type"] == "debit" else -1
            per_txn[(r["transaction_id"], r["currency"])] += sign * (r["amount"] or 0)
        wrong = bool(problems) or any(v != 0 for v in per_txn.values())
    return problems, wrong


@pytest.fixture
def loose_db(db):
    from .test_checks_hardening import LOOSEN

    db.execute(LOOSEN)
    return db


@EXAMPLES
@given(txns=st.lists(hostile_txn, min_size=0, max_size=12))
def test_hostile_ledgers_never_pass_and_never_overflow(loose_db, db_url, txns):
    recon = Recon(settings_for(db_url))
    reset(loose_db, "ledger_entries")
    rows = hostile_rows(txns)
    with loose_db.transaction() as conn:
        conn.cursor().executemany(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount,"
            " currency, created_at) VALUES (%(program_id)s, %(transaction_id)s, %(account)s,"
            " %(type)s, %(amount)s, %(currency)s, CASE WHEN %(future)s THEN"
            " timestamptz '2099-01-01' ELSE now() END)", rows)
    problems, wrong = hostile_oracle(rows)
    found = run(recon, "ledger_balance", "transaction_balance", "platform_data_integrity")
    assert all(c.error is None for c in found.values()), {n: c.error for n, c in found.items()}
    integrity = found["platform_data_integrity"]
    assert {(int(r["id"]), r["problem"]) for r in integrity.rows} == problems
    statuses = {c.status for c in found.values()}
    assert ("fail" in statuses) == wrong, (statuses, rows)
    INVARIANT_FIGURES["property examples"] += 1
    INVARIANT_FIGURES["planted faults found"] += len(problems)
