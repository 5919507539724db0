"""The named parameters a check's SQL (``:name``) and thresholds (``value > name``) may use.

Every one comes from a runbook setting (sge_recon/config.py), so an operator tunes a threshold in
one place and both engines see it: the SQL engine binds the values as query parameters, the GX
engine renders them as validated numeric literals.
"""

from __future__ import annotations

from decimal import Decimal

from ..config import Settings

# parameter name -> setting it mirrors (same value)
FROM_SETTINGS: dict[str, str] = {
    "intent_timeout_minutes": "INTENT_TIMEOUT_MINUTES",
    "intent_stuck_fail_minutes": "INTENT_STUCK_FAIL_MINUTES",
    "payout_sla_hours": "PAYOUT_SLA_HOURS",
    "webhook_retry_warn_count": "WEBHOOK_RETRY_WARN_COUNT",
    "webhook_consecutive_failures": "WEBHOOK_CONSECUTIVE_FAILURES",
    "webhook_disable_hours": "WEBHOOK_DISABLE_HOURS",
    "worker_down_seconds": "WORKER_DOWN_SECONDS",
    "queue_depth_warn": "QUEUE_DEPTH_WARN",
    "queue_depth_fail": "QUEUE_DEPTH_FAIL",
    "processing_time_warn_seconds": "PROCESSING_TIME_WARN_SECONDS",
    "processing_time_fail_seconds": "PROCESSING_TIME_FAIL_SECONDS",
    "ledger_tolerance": "LEDGER_TOLERANCE",
    "payout_approvals_required": "PAYOUT_APPROVALS_REQUIRED",
}


def check_params(settings: Settings) -> dict[str, Decimal | int]:
    """Name -> value of every parameter, derived from the settings."""
    params: dict[str, Decimal | int] = {name: getattr(settings, setting)
                                        for name, setting in FROM_SETTINGS.items()}
    # Derived: stuck_intents measures its rows in seconds.
    params["intent_stuck_fail_seconds"] = settings.INTENT_STUCK_FAIL_MINUTES * 60
    return params
