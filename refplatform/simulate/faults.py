"""The fault catalogue of ``sge-recon simulate --faults``.

Each fault plants exactly one kind of failure of the DESIGN §5 check catalogue and, as far as the
data model allows, nothing else. ``checks`` names the §5 check(s) that must then report it (a
ledger imbalance is necessarily also an unbalanced transaction); ``status`` is the status those
checks reach with the default thresholds. The SQL of each fault is ``refplatform/sql/simulate/
faults/<name>.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    checks: tuple[str, ...]
    status: str  # the status the checks reach: warn or fail
    summary: str


CATALOGUE: tuple[Fault, ...] = (
    Fault("ledger_imbalance", ("ledger_balance", "transaction_balance"), "fail",
          "a lone 12.34 debit: program 0's ledger (its main currency) is off by 12.34"),
    Fault("unbalanced_transaction", ("transaction_balance",), "fail",
          "two transactions of program 1 off by ±10.00 that offset each other"),
    Fault("stuck_intents", ("stuck_intents",), "fail",
          "intents stuck 11 and 12 minutes (warn) and 20 and 45 minutes (fail)"),
    Fault("payout_sla", ("payout_batch_sla",), "warn",
          "a batch pending approval for 30 h, one approved 30 h ago and not executed"),
    Fault("webhook_retries", ("webhook_retries",), "warn",
          "8 deliveries in retry_scheduled (more than 5)"),
    Fault("webhook_exhausted", ("webhook_exhausted",), "fail",
          "2 deliveries failed after 5 attempts"),
    Fault("webhook_endpoint_failing", ("webhook_endpoints_failing",), "warn",
          "an enabled endpoint with 12 consecutive failed attempts"),
    Fault("worker_down", ("worker_status",), "fail",
          "no worker heartbeat for 6–8 minutes"),
    Fault("worker_slow", ("worker_status",), "warn",
          "recent jobs take 4× the 7-day median (degraded)"),
    Fault("queue_backlog", ("queue_depth",), "fail",
          "600 more waiting jobs in the settlement queue"),
    Fault("slow_processing", ("processing_time",), "fail",
          "the last 100 completed intents took 20–40 s each"),
    Fault("affiliate_cycle", ("affiliate_tree",), "fail",
          "three affiliates that are each other's parents (problem: cycle)"),
    Fault("affiliate_orphan", ("affiliate_tree",), "fail",
          "an affiliate whose parent does not exist (problem: orphan)"),
    Fault("affiliate_cross_program", ("affiliate_tree",), "fail",
          "an affiliate whose parent is in another program (problem: cross_program)"),
    Fault("commission_rate", ("commission_accuracy",), "fail",
          "a commission at twice its program's direct rate (problem: rate)"),
    Fault("commission_amount", ("commission_accuracy",), "fail",
          "a commission 0.01 off round(base × rate, 2) (problem: amount)"),
    Fault("settlement_missing_on_chain", ("settlement_chain_match",), "fail",
          "a settlement whose transaction is not on chain (problem: missing_on_chain)"),
    Fault("settlement_amount_mismatch", ("settlement_chain_match",), "fail",
          "a settlement whose chain transfer is 0.50 short (problem: amount_mismatch)"),
    Fault("unknown_transfer", ("settlement_chain_match",), "fail",
          "a transfer to a treasury that no settlement claims (problem: unknown_transfer)"),
    Fault("commission_ledger_drift", ("commission_ledger",), "fail",
          "a balanced 5.00 credit to an affiliate with no commission behind it"),
)

FAULTS: dict[str, Fault] = {f.name: f for f in CATALOGUE}
FAULT_NAMES: tuple[str, ...] = tuple(FAULTS)
# fault name -> the §5 check(s) meant to report it
FAULT_CHECKS: dict[str, tuple[str, ...]] = {f.name: f.checks for f in CATALOGUE}
