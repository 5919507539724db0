"""Settlement intents as the console reads them: one intent with its jobs, settlement and ledger
entries (the stuck ones are the check stuck_intents' failing rows: sge_recon.console.verdicts).

Each function takes an open connection (one transaction per page load or action)."""

from __future__ import annotations

from .rows import all_rows


def intent(conn, intent_id: str) -> dict | None:
    return conn.execute("""
        SELECT id AS intent_id, program_id, user_id, amount, currency, status, idempotency_key,
               attempts, last_error, created_at, status_changed_at, completed_at
        FROM platform.settlement_intents WHERE id = %s""", (intent_id,)).fetchone()


def intent_jobs(conn, intent_id: str) -> list[dict]:
    return all_rows(conn, """
        SELECT id, status, attempts, run_at, created_at, started_at, finished_at, last_error
        FROM platform.jobs WHERE intent_id = %s ORDER BY id DESC LIMIT 50""", (intent_id,))


def intent_settlement(conn, intent_id: str) -> dict | None:
    return conn.execute("""
        SELECT id, tx_hash, block_number, amount, confirmed_at FROM platform.settlements
        WHERE intent_id = %s""", (intent_id,)).fetchone()


def intent_entries(conn, intent_id: str) -> list[dict]:
    return all_rows(conn, """
        SELECT transaction_id, account, type, amount, currency, created_at
        FROM platform.ledger_entries WHERE intent_id = %s ORDER BY id LIMIT 100""", (intent_id,))
