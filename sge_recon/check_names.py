"""The catalogue's check names that the code itself relies on (lights, alert rules, metrics,
the incremental ledger forms, the queue engine, the payout breaker …), as constants.

A check is defined in checks/checks.yml; code that treats one check specially names it through
this module, never with a string literal, so a rename in the catalogue fails a test
(tests/test_check_names.py) instead of silently greying a light or muting an alert.
"""

from __future__ import annotations

LEDGER_BALANCE = "ledger_balance"
TRANSACTION_BALANCE = "transaction_balance"
LEDGER_TAMPER = "ledger_tamper"
STUCK_INTENTS = "stuck_intents"
PAYOUT_BATCH_SLA = "payout_batch_sla"
WEBHOOK_RETRIES = "webhook_retries"
WEBHOOK_EXHAUSTED = "webhook_exhausted"
WEBHOOK_ENDPOINTS_FAILING = "webhook_endpoints_failing"
WORKER_STATUS = "worker_status"
QUEUE_PAUSED = "queue_paused"
QUEUE_DEPTH = "queue_depth"
PROCESSING_TIME = "processing_time"
AFFILIATE_TREE = "affiliate_tree"
COMMISSION_ACCURACY = "commission_accuracy"
SETTLEMENT_CHAIN_MATCH = "settlement_chain_match"
COMMISSION_LEDGER = "commission_ledger"
JOURNAL_SINGLE_PROGRAM = "journal_single_program"

REFERENCED = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
