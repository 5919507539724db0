"""The export's control totals (DESIGN §8: per program and currency, from the stream) against a
plain-Python reference: random row groups of several chunks, NULL keys and amounts, unknown entry
types, and sums past 38 digits (exact, where a decimal128 sum would wrap around)."""

from __future__ import annotations

import random
from decimal import Decimal

import pyarrow as pa
import pytest

from sge_recon.exports.totals import WIDE, ControlTotals, Totals

MONEY = pa.decimal128(38, 6)
BIG = Decimal("99999999999999999999999999999999.999999")  # the largest numeric(38,6)


def reference(rows: list[dict]) -> dict:
    out: dict = {}
    for r in rows:
        t = out.setdefault((r["program_id"], r["currency"]), Totals())
        t.entry_count += 1  # every row, a NULL amount too (as the verifier's count(*))
        if r["amount"] is None:
            continue
        if r["type"] == "debit":
            t.debits += r["amount"]
        elif r["type"] == "credit":
            t.credits += r["amount"]
    return {k: v for k, v in out.items() if v.entry_count or v.debits or v.credits}


def as_table(rows: list[dict], chunks: int) -> pa.Table:
    schema = pa.schema([("program_id", pa.string()), ("currency", pa.string()),
                        ("type", pa.string()), ("amount", MONEY)])
    size = max(1, len(rows) // chunks)
    parts = [pa.Table.from_pylist(rows[i:i + size], schema=schema)
             for i in range(0, len(rows), size)]
    return pa.concat_tables(parts)


def totals_of(groups: list[list[dict]]) -> dict:
    totals = ControlTotals()
    for rows in groups:
        totals.add_table(as_table(rows, chunks=3))
    return {k: v for k, v in totals._by_key.items() if v.entry_count or v.debits or v.credits}


@pytest.mark.parametrize("seed", range(6))
def test_random_row_groups_match_the_reference(seed):
    rng = random.Random(seed)
    programs, currencies = ["p1", "p2", "prog,3", None], ["USD", "EUR", None]
    groups = []
    for _ in range(rng.randint(1, 4)):
        rows = []
        for _ in range(rng.randint(1, 3000)):
            kind = rng.choice(["debit", "credit", "debit", "credit", "reversal", None])
            amount = Decimal(rng.randint(1, 10**12)) / 1_000_000
            rows.append({"program_id": rng.choice(programs), "currency": rng.choice(currencies),
                         "type": kind, "amount": None if kind in ("reversal", None)
                         and rng.random() < 0.5 else amount})
        groups.append(rows)
    assert totals_of(groups) == reference([r for g in groups for r in g])


def test_sums_past_38_digits_are_exact():
    rows = [{"program_id": "p", "currency": "USD", "type": t, "amount": BIG}
            for t in ("debit", "debit", "debit", "credit")]
    got = totals_of([rows])[("p", "USD")]
    assert got.debits == WIDE.multiply(3, BIG) and got.credits == BIG and got.entry_count == 4
    totals = ControlTotals()
    totals.add_table(as_table(rows, chunks=2))
    assert totals.as_list()[0]["debits"] == "299999999999999999999999999999999.999997"


def test_null_keys_and_all_null_debits_are_listed_not_a_crash():
    """A platform row without program, currency or amount (real data has them) is counted in its
    own group and listed after the named ones; a group whose amounts are all NULL sums to 0 and
    still counts its rows."""
    rows = [{"program_id": "p1", "currency": "USD", "type": "debit", "amount": Decimal("1.5")},
            {"program_id": None, "currency": "USD", "type": "debit", "amount": None},
            {"program_id": "p1", "currency": None, "type": "credit", "amount": Decimal("2")},
            {"program_id": None, "currency": None, "type": "debit", "amount": Decimal("3")}]
    totals = ControlTotals()
    totals.add_table(as_table(rows, chunks=2))
    listed = totals.as_list()
    assert [(r["program_id"], r["currency"]) for r in listed] == [
        ("p1", "USD"), ("p1", None), (None, "USD"), (None, None)]
    assert listed[2] == {"program_id": None, "currency": "USD", "debits": "0.000000",
                         "credits": "0.000000", "difference": "0.000000", "entry_count": 1}
    assert listed[1]["credits"] == "2.000000" and listed[3]["debits"] == "3.000000"


def test_totals_are_exact_at_the_amount_columns_own_scale():
    """numeric(38,8) is exported as decimal128(38,8): its totals keep all 8 places (never
    rounded to 6, never written as 1E-8)."""
    schema = pa.schema([("program_id", pa.string()), ("currency", pa.string()),
                        ("type", pa.string()), ("amount", pa.decimal128(38, 8))])
    rows = [{"program_id": "p", "currency": "USD", "type": t, "amount": Decimal(a)}
            for t, a in (("debit", "1.00000001"), ("credit", "1.00000001"),
                         ("debit", "0.00000049"), ("credit", "0.00000001"))]
    totals = ControlTotals()
    totals.add_table(pa.Table.from_pylist(rows, schema=schema))
    assert totals.as_list() == [{"program_id": "p", "currency": "USD", "debits": "1.00000050",
                                 "credits": "1.00000002", "difference": "0.00000048",
                                 "entry_count": 4}]
