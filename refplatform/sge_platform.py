"""An SGE-shaped stand-in database and its data generator (for the ``sge`` profile, DESIGN §11).

The real SGE platform (facts: ``../shared/SGE_PLATFORM.md``) names everything the Prisma way
(``"LedgerEntry"."programId"``), keeps signed ledger amounts with journals keyed by
(``"refType"``, ``"refId"``), percent commission rates, UPPER-case enum types, UTC in
``timestamp(3) without time zone`` and cuid text ids. This module builds such a database:

* :func:`create_sge_schema` runs ``refplatform/sql/sge/001_schema.sql`` (idempotent);
* :func:`load_sge_platform` fills it, set-based in SQL (``refplatform/sql/sge/gen_*.sql``),
  deterministic for a (seed, as_of), and plants named faults
  (``refplatform/sql/sge/faults/<name>.sql``), returning the exact
  identities an independent check must report for each;
* :func:`reset_sge_platform` empties it (tests only).

Python only orchestrates: every row is written by the SQL files, in one transaction.

The data (``intents=N``; 60 days before ``as_of``, UTC naive):

* 3 ACTIVE programs (fees 100 / 250 / 49.99 USD; direct 10.00 / 12.50 / 8.00 %, override 5.00 /
  4.00 / 2.50 %) and 1 ARCHIVED program without activity;
* per program ``max(10, N/120)`` affiliates in a tree (3 roots, 3 children each, depth >= 2) and
  ``max(20, N/15)`` users, 80 % referred by an affiliate of their program;
* N intents: a user's first is its REGISTER, then COMMERCE_PAYMENT / CLAIM / PAYOUT (a PAYOUT
  intent's wallet is an affiliate's, so (programId, wallet) resolves to no user); 97 % of the
  historical ones CONFIRMED in 0.8-6 s, the rest FAILED (5 attempts) or EXPIRED; the newest
  ``max(4, N/1000)`` PENDING / PROCESSING within the last 5 minutes;
* a CONFIRMED, verified "Settlement" per CONFIRMED intent (MINT / PAYMENT / CLAIM / PAYOUT) and
  its SETTLEMENT journal: REGISTER treasury/revenue; COMMERCE_PAYMENT three legs (treasury
  debit, revenue and ``system:fees`` 2 % credits); CLAIM ``user:<id>:claims``/treasury; PAYOUT
  ``affiliate:<id>:paid``/``system:suspense``;
* DIRECT + OVERRIDE commissions on MINT/PAYMENT settlements of referred users, each with its
  COMMISSION journal (``"settlementId"`` NULL, as recordCommissionAccrual writes it);
* weekly payout batches per program (the current week is not batched: ACCRUED), every
  PayoutStatus present; COMPLETED line items have their PAYOUT journal and PAID commissions;
* "AuditLog" rows for programs, affiliates and batch transitions; the relayer's ``jobs`` where
  that table is the relayer's.

About 5 ledger entries per intent: 200,000 intents give ~1,000,000 entries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from refplatform.setup import SQL_DIR
from sge_recon.db import Database

# name -> what it plants. Faults are applied in this order whatever order they are asked in.
SGE_FAULTS: dict[str, str] = {
    "payout_sla": "a PENDING payout batch created 30 h ago and an APPROVED one approved 30 h ago, "
                  "never executed",
    "stuck_intents": "two PROCESSING intents last updated 40 min ago and two PENDING ones "
                     "20 min ago",
    "slow_processing": "the last 100 CONFIRMED intents took 20-25 s from createdAt to completedAt",
    "affiliate_cycle": "three new affiliates whose parentId links form a 3-cycle",
    "affiliate_cross_program": "a new affiliate whose parent belongs to another program",
    "commission_rate": "a DIRECT commission whose rate differs from the program's "
                       "directCommissionPct (amount and ledger consistent with that wrong rate)",
    "commission_amount": "a DIRECT and an OVERRIDE commission whose amount is not "
                         "round(baseAmount x rate / 100, 2) (their ledger pairs follow the amount)",
    "commission_ledger_drift": "a commission accrual posted twice (a balanced extra COMMISSION "
                               "pair to one affiliate's liability)",
    "unbalanced_transaction": "a COMMISSION journal whose debit leg is 0.10 too high and a "
                              "SETTLEMENT journal of the same program whose credit is 0.10 too "
                              "high: both unbalanced, the program total still zero",
    "ledger_imbalance": "a lone one-sided ADJUSTMENT entry (a credit of 25.00 to a program's "
                        "revenue), so that program's ledger is off by -25.000000",
}

# Which planted faults are the data of which check (what the `sge` profile's checks should find).
FAULT_CHECKS: dict[str, str] = {
    "ledger_imbalance": "ledger_balance", "unbalanced_transaction": "transaction_balance",
    "stuck_intents": "stuck_intents", "payout_sla": "payout_batch_sla",
    "affiliate_cycle": "affiliate_tree", "affiliate_cross_program": "affiliate_tree",
    "commission_rate": "commission_accuracy", "commission_amount": "commission_accuracy",
    "commission_ledger_drift": "commission_ledger", "slow_processing": "processing_time",
}

# Faults that no check of the shipped `sge` profile has data for (accepted by ``faults=`` too, but
# kept out of SGE_FAULTS so that "every SGE fault is some available check's" stays true).
SGE_EXTRA_FAULTS: dict[str, str] = {
    "settlement_unverified": "two CONFIRMED settlements whose receipt was never verified "
                             "(verified false, no verifiedAt): the only chain evidence SGE keeps",
}

SGE_TABLES = ("Program", "Affiliate", "User", "Intent", "Settlement", "LedgerEntry", "Commission",
              "PayoutBatch", "Payout", "AuditLog")

GENERATOR_STEPS = ("gen_10_programs", "gen_20_affiliates", "gen_30_users", "gen_40_intents",
                   "gen_50_settlements", "gen_60_commissions", "gen_70_payouts",
                   "gen_75_commission_journals", "gen_80_audit", "gen_85_relayer_jobs")

MIN_INTENTS = 200


@dataclass
class SgeLoadReport:
    """What a load wrote and what each planted fault must make a check report.

    ``faults[name]`` holds the exact identities, by fault:

    * ``ledger_imbalance``: ``[(programId, 'USD', signed difference)]``, the difference being
      ``sum(amount)`` of that program (= debits - credits) as a ``Decimal``;
    * ``unbalanced_transaction``: ``["<refType>:<refId>", ...]`` journals that do not sum to zero;
    * ``stuck_intents``: intent ids (PROCESSING 40 min and PENDING 20 min since "updatedAt"; the
      status and age of each are in ``details``);
    * ``payout_sla``: batch ids; ``affiliate_cycle``, ``affiliate_cross_program``,
      ``commission_ledger_drift``: affiliate ids; ``commission_rate``, ``commission_amount``:
      commission ids; ``settlement_unverified``: settlement ids;
    * ``slow_processing``: ``[mean seconds]`` from createdAt to completedAt of the last 100
      CONFIRMED intents (by completedAt), a ``Decimal`` to the millisecond.

    ``side_effects[name][other]`` lists what a fault also legitimately makes another fault's check
    report (the lone ``ledger_imbalance`` entry is itself an unbalanced journal:
    ``side_effects['ledger_imbalance']['unbalanced_transaction'] == ['ADJUSTMENT:<id>']``).
    ``details[name]`` carries extra facts per identity (status, expected/actual values).
    """

    seed: int
    as_of: datetime                      # naive, UTC (as the platform stores times)
    intents: int
    counts: dict[str, int] = field(default_factory=dict)
    faults: dict[str, list] = field(default_factory=dict)
    side_effects: dict[str, dict[str, list]] = field(default_factory=dict)
    details: dict[str, list[dict]] = field(default_factory=dict)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ledger_entries(self) -> int:
        return self.counts.get("LedgerEntry", 0)


def sge_sql_dir() -> Path:
    return SQL_DIR / "sge"


def _sql(name: str) -> str:
    return (sge_sql_dir() / f"{name}.sql").read_text(encoding="utf-8")


def fault_file(name: str) -> Path:
    return sge_sql_dir() / "faults" / f"{name}.sql"


def schema_sql() -> str:
    """The DDL of the SGE stand-in (``refplatform/sql/sge/001_schema.sql``)."""
    return _sql("001_schema")


def create_sge_schema(db: Database) -> None:
    """Create the SGE-shaped tables, enum types, indexes and FKs in ``public`` (idempotent)."""
    with db.transaction() as conn:
        conn.execute(schema_sql())  # type: ignore[arg-type]


def reset_sge_platform(db: Database) -> None:
    """Empty every SGE table (and the relayer's ``jobs`` if that is the relayer's). Tests only."""
    with db.transaction() as conn:
        conn.execute(_sql("reset"))  # type: ignore[arg-type]


def _utc_naive(as_of: datetime | None) -> datetime:
    if as_of is None:
        return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(timezone.utc).replace(tzinfo=None)
    return as_of


def _check_faults(faults: Iterable[str]) -> list[str]:
    known = [*SGE_FAULTS, *SGE_EXTRA_FAULTS]
    wanted = list(dict.fromkeys(faults))
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise ValueError(f"unknown SGE fault(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [f for f in known if f in wanted]


def _identity(fault: str, ident: Any) -> Any:
    if fault == "ledger_imbalance":
        return (ident["programId"], ident["currency"], Decimal(ident["difference"]))
    if fault == "slow_processing":
        return Decimal(ident["mean_seconds"])
    return ident


def load_sge_platform(db: Database, *, intents: int = 1000, seed: int = 1,
                      as_of: datetime | None = None,
                      faults: Iterable[str] = ()) -> SgeLoadReport:
    """Fill the (empty) SGE tables with ~60 days of activity before ``as_of`` and plant ``faults``.

    ``intents`` is the number of "Intent" rows before faults (at least 200); the ledger ends up with
    about 4.5 entries per intent. ``as_of`` defaults to now; an aware datetime is converted to UTC,
    a naive one is taken as UTC. Same (intents, seed, as_of, faults) -> same rows.
    """
    if intents < MIN_INTENTS:
        raise ValueError(f"intents must be at least {MIN_INTENTS}")
    ordered = _check_faults(faults)
    as_of_utc = _utc_naive(as_of)
    report = SgeLoadReport(seed=seed, as_of=as_of_utc, intents=intents)
    started = time.perf_counter()
    with db.transaction() as conn:
        if conn.execute('SELECT 1 FROM public."Program" LIMIT 1').fetchone():
            raise ValueError("the SGE tables already hold data: reset_sge_platform() first")

        def step(label: str, sql: str, params: dict | None = None) -> None:
            t0 = time.perf_counter()
            conn.execute(sql, params)  # type: ignore[arg-type]
            report.step_seconds[label] = round(time.perf_counter() - t0, 3)

        step("setup", _sql("gen_00_setup"))
        step("params", _sql("gen_01_params"),
             {"seed": seed, "as_of": as_of_utc, "intents": intents})
        step("gen_05_bulk_begin", _sql("gen_05_bulk_begin"))
        for name in GENERATOR_STEPS:
            step(name, _sql(name))
        step("indexes and foreign keys", schema_sql())
        for name in ordered:
            step(f"fault:{name}", fault_file(name).read_text(encoding="utf-8"))
        step("gen_90_finish", _sql("gen_90_finish"))
        rows = conn.execute("SELECT fault, kind, ident FROM sge_expect "
                            "ORDER BY fault, kind, ident::text").fetchall()
    for row in rows:
        fault, kind, ident = row["fault"], row["kind"], row["ident"]
        if kind == "expected":
            report.faults.setdefault(fault, []).append(_identity(fault, ident))
        elif kind == "detail":
            report.details.setdefault(fault, []).append(ident)
        else:
            report.side_effects.setdefault(fault, {}).setdefault(kind, []).append(ident)
    for name in ordered:
        report.faults.setdefault(name, [])
    report.counts = {r["table_name"]: r["n"] for r in db.fetch_all(_sql("counts"))}
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def describe_report(report: SgeLoadReport) -> str:
    """One line per table and fault (for logs and test output)."""
    lines = [f"SGE stand-in: seed {report.seed}, as_of {report.as_of:%Y-%m-%d %H:%M:%S} UTC, "
             f"{report.seconds:.1f} s"]
    lines += [f"  {t:<12} {n:>10,}" for t, n in report.counts.items()]
    lines += [f"  fault {f}: {json.dumps(v, default=str)}" for f, v in report.faults.items()]
    return "\n".join(lines)


def sge_platform_present(db: Database) -> bool:
    """Whether the database already holds an SGE platform with programs (the demo reuses it)."""
    row = db.fetch_one("SELECT to_regclass('public.\"Program\"') IS NOT NULL AS present")
    if not row or not row["present"]:
        return False
    return bool(db.fetch_one('SELECT EXISTS (SELECT 1 FROM public."Program") AS any')["any"])
