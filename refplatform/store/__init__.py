"""All SQL of the reference platform (refplatform/): the admin API, the worker, the webhook
dispatcher and the traffic generator.

Every state change locks the row it decides on (``SELECT … FOR UPDATE``) and checks the state in the
same transaction, so that concurrent calls serialise on the row: a batch is executed once, an intent
gets one waiting job. The job queue is taken with ``FOR UPDATE SKIP LOCKED``. Functions take an open
connection (inside a transaction) and return plain values; times come from the caller's clock so that
tests can move time without sleeping.

Split by domain: :mod:`.base` (ids, connections, audit log), :mod:`.jobs` (intents, the job
queue, workers), :mod:`.money` (force-reconcile, payouts, corrections), :mod:`.webhooks`,
:mod:`.traffic`; callers use ``from refplatform import store`` and ``store.<function>``.
"""

from __future__ import annotations

from .base import (
    LIVE_STATUSES,
    QUEUE,
    WORKER_LOCK_CLASS,
    Conn,
    PlatformPool,
    audit_entries,
    connect,
    new_id,
    ping,
    write_audit,
)
from .jobs import (
    abandon_job,
    affiliate_chain,
    claim_job,
    complete_intent,
    consume_fault,
    delay_job,
    emit_settlement_webhooks,
    enqueue_job,
    fail_job,
    finish_job,
    heartbeat,
    hold_worker_lock,
    intent_for_processing,
    jobs_completed_before,
    lock_intent,
    open_jobs,
    pipeline,
    queue_control,
    queue_depth,
    record_rpc_call,
    relax_commit,
    reopen_failed_intent,
    requeue_abandoned_jobs,
    requeue_jobs_of,
    run_job_now,
    set_intent_status,
    set_paused,
    workers,
    write_commission,
    write_journal,
    write_settlement,
)
from .money import (
    approvals,
    approve_batch,
    create_payout_batch,
    execute_batch,
    get_program,
    lock_batch,
    program_balances,
    program_unbalanced_transactions,
    record_reconcile_run,
    same_approver,
    transaction_entries_for_update,
    write_correction,
    lock_request_key,
    remember_request_key,
)
from .traffic import (
    adoptable_endpoints,
    insert_affiliate,
    insert_intent_with_job,
    insert_program,
    insert_user,
    point_endpoint,
    program_affiliates,
    program_users,
    programs,
    upsert_endpoint,
)
from .webhooks import (
    claim_due_deliveries,
    lock_delivery,
    record_attempt,
    schedule_immediate_attempt,
    set_endpoint_enabled,
    update_endpoint_health,
)

__all__ = [
    "Conn", "LIVE_STATUSES", "PlatformPool", "QUEUE", "WORKER_LOCK_CLASS", "abandon_job",
    "adoptable_endpoints", "affiliate_chain", "approvals", "approve_batch",
    "audit_entries", "claim_due_deliveries", "claim_job", "complete_intent", "connect",
    "consume_fault", "create_payout_batch", "delay_job", "emit_settlement_webhooks",
    "enqueue_job", "execute_batch", "fail_job", "finish_job", "get_program", "heartbeat",
    "hold_worker_lock", "insert_affiliate", "insert_intent_with_job", "insert_program",
    "insert_user", "intent_for_processing", "jobs_completed_before", "lock_batch",
    "lock_delivery", "lock_intent", "new_id", "open_jobs", "ping", "pipeline", "point_endpoint",
    "program_affiliates", "program_balances", "program_unbalanced_transactions",
    "program_users", "programs", "queue_control", "queue_depth", "record_attempt",
    "record_reconcile_run", "record_rpc_call", "relax_commit", "reopen_failed_intent",
    "requeue_abandoned_jobs", "requeue_jobs_of", "run_job_now", "same_approver",
    "schedule_immediate_attempt", "set_endpoint_enabled", "set_intent_status", "set_paused", "update_endpoint_health",
    "transaction_entries_for_update", "upsert_endpoint", "workers", "write_audit",
    "write_commission", "write_correction", "lock_request_key", "remember_request_key",
    "write_journal", "write_settlement",
]
