"""The §4 platform contract's tables and columns (DESIGN §4): what `db init` validates, what a
profile must map, and what the contract-shaped views return. Plain data, so that the schema
migration, the profile views and the profile reader all read it from here without importing
each other."""

from __future__ import annotations

# DESIGN §4: table -> required column -> type family. "int" accepts any integer width.
CONTRACT: dict[str, dict[str, str]] = {
    "programs": {"id": "text", "name": "text", "currency": "text", "treasury_address": "text",
                 "direct_commission_rate": "numeric", "parent_commission_rate": "numeric",
                 "created_at": "timestamptz"},
    "affiliates": {"id": "text", "program_id": "text", "code": "text", "parent_id": "text",
                   "created_at": "timestamptz"},
    "users": {"id": "text", "program_id": "text", "wallet": "text", "referred_by": "text",
              "created_at": "timestamptz"},
    "settlement_intents": {"id": "text", "program_id": "text", "user_id": "text",
                           "amount": "numeric", "currency": "text", "status": "text",
                           "idempotency_key": "text", "attempts": "int", "last_error": "text",
                           "created_at": "timestamptz", "status_changed_at": "timestamptz",
                           "completed_at": "timestamptz"},
    "settlements": {"id": "text", "intent_id": "text", "program_id": "text", "tx_hash": "text",
                    "block_number": "int", "amount": "numeric", "confirmed_at": "timestamptz"},
    "chain_transactions": {"tx_hash": "text", "block_number": "int", "from_address": "text",
                           "to_address": "text", "amount": "numeric",
                           "observed_at": "timestamptz"},
    "ledger_entries": {"id": "int", "program_id": "text", "transaction_id": "text",
                       "intent_id": "text", "account": "text", "type": "text",
                       "amount": "numeric", "currency": "text", "created_at": "timestamptz"},
    "commissions": {"id": "text", "program_id": "text", "affiliate_id": "text",
                    "intent_id": "text", "level": "int", "rate": "numeric",
                    "base_amount": "numeric", "amount": "numeric", "status": "text",
                    "payout_batch_id": "text", "created_at": "timestamptz"},
    "payout_batches": {"id": "text", "program_id": "text", "status": "text",
                       "affiliate_count": "int", "total_amount": "numeric",
                       "created_at": "timestamptz", "approved_at": "timestamptz",
                       "executed_at": "timestamptz"},
    "payout_approvals": {"batch_id": "text", "approver": "text", "approved_at": "timestamptz"},
    "webhook_endpoints": {"id": "text", "program_id": "text", "url": "text", "enabled": "bool",
                          "disabled_at": "timestamptz", "created_at": "timestamptz"},
    "webhook_deliveries": {"id": "text", "endpoint_id": "text", "event_type": "text",
                           "payload": "jsonb", "status": "text", "attempt_count": "int",
                           "last_error": "text", "last_attempt_at": "timestamptz",
                           "next_retry_at": "timestamptz", "created_at": "timestamptz"},
    "worker_heartbeats": {"worker_id": "text", "started_at": "timestamptz",
                          "last_seen_at": "timestamptz", "jobs_completed": "int"},
    "jobs": {"id": "int", "queue": "text", "intent_id": "text", "status": "text",
             "attempts": "int", "run_at": "timestamptz", "created_at": "timestamptz",
             "started_at": "timestamptz", "finished_at": "timestamptz", "last_error": "text"},
    "queue_control": {"queue": "text", "paused": "bool", "changed_at": "timestamptz",
                      "changed_by": "text"},
    "rpc_calls": {"id": "int", "provider": "text", "method": "text", "latency_ms": "numeric",
                  "ok": "bool", "called_at": "timestamptz"},
}

# Tables a profile MAY map (DESIGN §11 leaves them to the platform): where one is not mapped, the
# contract platform included, it is `absent` and the checks built on it are `unavailable`.
# payout_items: what a batch pays each affiliate when the platform stores it apart from the
# commissions (SGE's "Payout" line items); the reference platform pays a batch's commissions
# themselves and keeps no such row. destination: where the line item sends the money;
# affiliate_wallet: the address the platform holds for the affiliate now (they must agree while
# the line item is not paid).
OPTIONAL_CONTRACT: dict[str, dict[str, str]] = {
    "payout_items": {"id": "text", "batch_id": "text", "program_id": "text",
                     "affiliate_id": "text", "amount": "numeric", "currency": "text",
                     "status": "text", "destination": "text", "affiliate_wallet": "text"},
}


def contract_columns(table: str) -> dict[str, str]:
    """The contract columns of a required or optional contract table."""
    return CONTRACT[table] if table in CONTRACT else OPTIONAL_CONTRACT[table]
