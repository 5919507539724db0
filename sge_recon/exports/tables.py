"""What a monthly audit export contains: one Parquet file per table, each filtered to the month by
its natural timestamp (the moment the row came into being).

The columns are read from the database at export time, so columns a real platform adds beside the
contract's travel along. A table the source may lack (the reference platform's admin audit log) is
exported empty with the schema declared here, and the manifest says so.
"""

from __future__ import annotations

# The two data classes are the data layer's (db/exports.py builds the month's query from them).
from ..db.export_specs import Column, TableSpec

__all__ = ["JOURNAL", "LEDGER", "TABLES", "Column", "TableSpec"]


_ADMIN_AUDIT_LOG = (
    Column("id", "bigint"), Column("at", "timestamp with time zone"), Column("actor", "text"),
    Column("method", "text"), Column("path", "text"), Column("target", "text"),
    Column("body", "jsonb"), Column("status_code", "integer"), Column("result", "text"),
    Column("message", "text"),
)

# the optional contract table (db/contract.py): a platform without line items exports it empty
_PAYOUT_ITEMS = (
    Column("id", "text"), Column("batch_id", "text"), Column("program_id", "text"),
    Column("affiliate_id", "text"), Column("amount", "numeric"), Column("currency", "text"),
    Column("status", "text"), Column("destination", "text"), Column("affiliate_wallet", "text"),
)

_JOURNAL = (
    Column("seq", "bigint"), Column("at", "timestamp with time zone"), Column("source", "text"),
    Column("op", "text"), Column("ref", "text"), Column("event", "text"),
    Column("prev_hash", "text"), Column("hash", "text"),
)

_TS = "timestamp with time zone"
_OVERRIDES = (
    Column("id", "bigint"), Column("batch_id", "text"), Column("program_id", "text"),
    Column("incident_ids", "ARRAY"), Column("reason", "text"), Column("requested_by", "text"),
    Column("requested_at", _TS), Column("confirmed_by", "text"), Column("confirmed_at", _TS),
    Column("used_at", _TS), Column("used_by", "text"),
)
_SILENCES = (
    Column("id", "bigint"), Column("kind", "text"), Column("program_id", "text"),
    Column("reason", "text"), Column("owner", "text"), Column("created_by", "text"),
    Column("created_at", _TS), Column("starts_at", _TS), Column("ends_at", _TS),
    Column("ended_at", _TS), Column("ended_by", "text"), Column("weekly_day", "smallint"),
    Column("weekly_start", "time without time zone"), Column("weekly_minutes", "integer"),
    Column("expiry_reminded_at", _TS),
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec("ledger_entries", "platform", "ledger_entries", "created_at",
              "double-entry ledger: every debit and credit"),
    TableSpec("settlement_intents", "platform", "settlement_intents", "created_at",
              "settlement intents created in the month"),
    TableSpec("settlements", "platform", "settlements", "confirmed_at",
              "settlements confirmed in the month"),
    TableSpec("chain_transactions", "platform", "chain_transactions", "observed_at",
              "on-chain transfers observed in the month"),
    TableSpec("commissions", "platform", "commissions", "created_at",
              "affiliate commissions accrued in the month"),
    TableSpec("payout_batches", "platform", "payout_batches", "created_at",
              "payout batches created in the month"),
    TableSpec("payout_approvals", "platform", "payout_approvals", "approved_at",
              "payout approvals given in the month"),
    TableSpec("payout_items", "platform", "payout_items", "created_at",
              "payout line items (what the platform pays each affiliate) of the batches created "
              "in the month; empty where the platform keeps none",
              via=("batch_id", "platform", "payout_batches", "created_at"),
              via_parent_key="id", fallback=_PAYOUT_ITEMS),
    TableSpec("webhook_deliveries", "platform", "webhook_deliveries", "created_at",
              "webhook deliveries created in the month"),
    TableSpec("admin_audit_log", "platform", "admin_audit_log", "at",
              "state-changing admin API calls", fallback=_ADMIN_AUDIT_LOG),
    TableSpec("action_log", "recon", "action_log", "at",
              "console actions: who, when, what, and the API's answer"),
    TableSpec("check_runs", "recon", "check_runs", "started_at",
              "reconciliation check runs started in the month"),
    TableSpec("check_results", "recon", "check_results", "started_at",
              "results of those check runs",
              via=("run_id", "recon", "check_runs", "started_at"), rounded=("value",)),
    TableSpec("incidents", "recon", "incidents", "opened_at",
              "incidents opened in the month"),
    TableSpec("breaker_overrides", "recon", "breaker_overrides", "requested_at",
              "payout circuit breaker overrides requested in the month: who asked, why, who "
              "confirmed, who used it", fallback=_OVERRIDES),
    TableSpec("silences", "recon", "silences", "created_at",
              "silences and maintenance windows created in the month: reason, owner, expiry",
              fallback=_SILENCES),
    TableSpec("journal", "recon", "journal", "at",
              "tamper-evident journal: hash-chained entries of check runs, incident transitions, "
              "console actions and breaker overrides (export verify recomputes the chain)",
              fallback=_JOURNAL),
)

JOURNAL = "journal"

LEDGER = "ledger_entries"


def spec(name: str) -> TableSpec:
    for table in TABLES:
        if table.name == name:
            return table
    raise KeyError(name)
