"""SQL of the SGE admin API stand-in (refplatform/sge_api.py): what SGE's own services
write when a payout batch is approved or executed, on the SGE-shaped tables (Prisma names,
``timestamp(3)`` without time zone holding UTC, signed ledger amounts).

Stand-in only: sge-recon itself never writes a platform table (DESIGN §1); this module is the
platform's side, for the tests and the SGE-shaped demo.
"""

from __future__ import annotations

import secrets
import string
import time
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = psycopg.Connection
_B36 = string.digits + string.ascii_lowercase
NOW = "(now() AT TIME ZONE 'UTC')::timestamp(3)"


def cuid(at: float | None = None) -> str:
    """A cuid-shaped id (Prisma's @default(cuid())): 'c' + time + counter + random, base 36;
    the time is now, or ``at`` (epoch seconds) for a row stamped as of then."""
    ms = int((time.time() if at is None else at) * 1000)
    stamp = ""
    while ms:
        ms, r = divmod(ms, 36)
        stamp = _B36[r] + stamp
    return "c" + stamp[-8:] + "".join(secrets.choice(_B36) for _ in range(16))


def connect(url: str) -> Conn:
    return psycopg.connect(url, row_factory=dict_row, application_name="sge-api-standin",
                           connect_timeout=5)


def ping(conn: Conn) -> None:
    conn.execute("SELECT 1")


def batch_for_update(conn: Conn, batch_id: str) -> dict | None:
    return conn.execute('SELECT * FROM public."PayoutBatch" WHERE id = %s FOR UPDATE',
                        (batch_id,)).fetchone()


def approve_batch(conn: Conn, batch_id: str, admin_id: str) -> dict:
    return conn.execute(
        f'UPDATE public."PayoutBatch" SET status = \'APPROVED\', "approvedById" = %s, '
        f'"approvedAt" = {NOW}, "updatedAt" = {NOW} WHERE id = %s RETURNING *',
        (admin_id, batch_id)).fetchone()


def pending_payouts(conn: Conn, batch_id: str) -> list[dict]:
    return conn.execute(
        'SELECT * FROM public."Payout" WHERE "batchId" = %s AND status = \'PENDING\' '
        'ORDER BY id FOR UPDATE', (batch_id,)).fetchall()


def complete_payout(conn: Conn, payout: dict, tx_hash: str) -> None:
    """One line item paid: the Payout COMPLETED, its PAYOUT journal (debit the affiliate's
    liability, credit the program's treasury), its commissions PAID."""
    conn.execute(
        f'UPDATE public."Payout" SET status = \'COMPLETED\', "txHash" = %s, "executedAt" = {NOW}, '
        f'"updatedAt" = {NOW} WHERE id = %s', (tx_hash, payout["id"]))
    aid, pid, amount = payout["affiliateId"], payout["programId"], Decimal(payout["amount"])
    liability, treasury = f"affiliate:{aid}:liability", f"program:{pid}:treasury"
    for account, counterparty, signed, side in ((liability, treasury, amount, "DEBIT: "),
                                                (treasury, liability, -amount, "CREDIT: ")):
        conn.execute(
            'INSERT INTO public."LedgerEntry" (id, "programId", account, counterparty, amount, '
            'currency, "refType", "refId", "settlementId", description, "createdAt") '
            f"VALUES (%s, %s, %s, %s, %s, %s, 'PAYOUT', %s, NULL, %s, {NOW})",
            (cuid(), pid, account, counterparty, signed, payout["currency"], payout["id"],
             f"{side}Payout {payout['id']} - {tx_hash}"))
    conn.execute(
        f'UPDATE public."Commission" SET status = \'PAID\', "paidAt" = {NOW}, "updatedAt" = {NOW} '
        'WHERE "payoutId" = %s', (payout["id"],))


def complete_batch(conn: Conn, batch_id: str, tx_hash: str) -> dict:
    return conn.execute(
        f'UPDATE public."PayoutBatch" SET status = \'COMPLETED\', "executedAt" = {NOW}, '
        f'"executionTxHash" = %s, "updatedAt" = {NOW} WHERE id = %s RETURNING *',
        (tx_hash, batch_id)).fetchone()


def write_audit(conn: Conn, *, program_id: str | None, action: str, actor: str,
                target_type: str, target_id: str, before: Any, after: Any) -> None:
    conn.execute(
        'INSERT INTO public."AuditLog" (id, "programId", action, "actorId", "actorType", '
        f'"targetType", "targetId", before, after, "createdAt") VALUES (%s, %s, %s, %s, '
        f"'ADMIN', %s, %s, %s, %s, {NOW})",
        (cuid(), program_id, action, actor, target_type, target_id, Jsonb(before),
         Jsonb(after)))


def program_exists(conn: Conn, program_id: str) -> bool:
    return conn.execute('SELECT 1 FROM public."Program" WHERE id = %s',
                        (program_id,)).fetchone() is not None


def ledger_imbalances(conn: Conn, program_id: str | None) -> list[dict]:
    """Per program and currency: the signed sum (debits − credits), where it is not zero."""
    return conn.execute(
        'SELECT "programId" AS "programId", currency, sum(amount) AS difference, count(*) AS '
        'entries FROM public."LedgerEntry" WHERE (%(p)s::text IS NULL OR "programId" = %(p)s) '
        'GROUP BY 1, 2 HAVING sum(amount) <> 0 ORDER BY 1, 2', {"p": program_id}).fetchall()


def unbalanced_journals(conn: Conn, program_id: str | None, limit: int = 100) -> list[dict]:
    return conn.execute(
        'SELECT "refType" AS "refType", "refId" AS "refId", sum(amount) AS difference '
        'FROM public."LedgerEntry" WHERE (%(p)s::text IS NULL OR "programId" = %(p)s) '
        'GROUP BY 1, 2 HAVING sum(amount) <> 0 ORDER BY 1, 2 LIMIT %(n)s',
        {"p": program_id, "n": limit}).fetchall()


def stuck_intents(conn: Conn, program_id: str | None) -> int:
    """The platform's own reconciler: PROCESSING with "updatedAt" older than 30 min."""
    return conn.execute(
        'SELECT count(*) AS n FROM public."Intent" WHERE status = \'PROCESSING\' AND '
        f'"updatedAt" < {NOW} - interval \'30 minutes\' AND '
        '(%(p)s::text IS NULL OR "programId" = %(p)s)', {"p": program_id}).fetchone()["n"]


def table_counts(conn: Conn) -> dict[str, int]:
    row = conn.execute(
        'SELECT (SELECT count(*) FROM public."Program") AS programs, '
        '(SELECT count(*) FROM public."Intent") AS intents, '
        '(SELECT count(*) FROM public."PayoutBatch" WHERE status = \'PENDING\') AS '
        '"pendingBatches", (SELECT count(*) FROM public."LedgerEntry") AS "ledgerEntries"'
    ).fetchone()
    return {k: int(v) for k, v in row.items()}
