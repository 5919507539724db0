"""Factories for platform rows: each test builds exactly the data it needs.

Every method inserts one row (or one balanced journal transaction) with sensible defaults that any
keyword overrides, and returns the row as a dict. Timestamps default to now(); pass
`created_at=...` etc. to place rows in time.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from sge_recon.db import Database

_seq = itertools.count(1)


def now() -> datetime:
    return datetime.now(timezone.utc)


def ago(**kw) -> datetime:
    return now() - timedelta(**kw)


class PlatformFactory:
    def __init__(self, db: Database):
        self.db = db

    # -- generic ---------------------------------------------------------------------------
    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        cols = list(row)
        values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row.values()]
        sql = (f"INSERT INTO public.{table} ({', '.join(cols)}) "
               f"VALUES ({', '.join(['%s'] * len(cols))}) RETURNING *")
        with self.db.transaction() as conn:
            return conn.execute(sql, values).fetchone()

    @staticmethod
    def uid(prefix: str) -> str:
        return f"{prefix}_{next(_seq):06d}"

    # -- platform rows ---------------------------------------------------------------------
    def program(self, **kw) -> dict:
        pid = kw.pop("id", self.uid("prog"))
        row = {"id": pid, "name": f"Program {pid}", "currency": "USD",
               "treasury_address": f"0xtreasury{pid}", "direct_commission_rate": Decimal("0.01"),
               "parent_commission_rate": Decimal("0.005"), **kw}
        return self.insert("programs", row)

    def affiliate(self, program_id: str, **kw) -> dict:
        aid = kw.pop("id", self.uid("aff"))
        return self.insert("affiliates", {"id": aid, "program_id": program_id,
                                          "code": aid.upper(), "parent_id": None, **kw})

    def user(self, program_id: str, **kw) -> dict:
        uid = kw.pop("id", self.uid("user"))
        return self.insert("users", {"id": uid, "program_id": program_id,
                                     "wallet": f"0xwallet{uid}", "referred_by": None, **kw})

    def intent(self, program_id: str, user_id: str, **kw) -> dict:
        iid = kw.pop("id", self.uid("int"))
        row = {"id": iid, "program_id": program_id, "user_id": user_id,
               "amount": Decimal("100.00"), "currency": "USD", "status": "completed",
               "idempotency_key": f"idem-{iid}", "attempts": 1, **kw}
        return self.insert("settlement_intents", row)

    def settlement(self, intent_id: str, program_id: str, **kw) -> dict:
        sid = kw.pop("id", self.uid("set"))
        row = {"id": sid, "intent_id": intent_id, "program_id": program_id,
               "tx_hash": f"0xtx{sid}", "block_number": 1000, "amount": Decimal("100.00"),
               "confirmed_at": now(), **kw}
        return self.insert("settlements", row)

    def completed_intent(self, program: dict, user_id: str, amount: Decimal = Decimal("100.00"),
                         **kw) -> dict:
        """An intent completed the way the platform completes one: its completion time, the
        settlement that claims the chain transfer to the program's treasury, and its journal."""
        intent = self.intent(program["id"], user_id, amount=amount, status="completed",
                             created_at=now() - timedelta(seconds=2), completed_at=now(), **kw)
        settlement = self.settlement(intent["id"], program["id"], amount=amount)
        self.chain_tx(settlement["tx_hash"], program["treasury_address"], amount)
        self.journal(program["id"], [(f"user:{user_id}", "debit", amount),
                                     ("treasury", "credit", amount)], intent_id=intent["id"])
        return intent

    def chain_tx(self, tx_hash: str, to_address: str, amount: Decimal, **kw) -> dict:
        row = {"tx_hash": tx_hash, "block_number": 1000, "from_address": "0xpayer",
               "to_address": to_address, "amount": amount, **kw}
        return self.insert("chain_transactions", row)

    def journal(self, program_id: str, entries: list[tuple[str, str, Decimal | str]], *,
                transaction_id: str | None = None, currency: str = "USD",
                intent_id: str | None = None, created_at: datetime | None = None) -> str:
        """One journal transaction: entries are (account, 'debit'|'credit', amount)."""
        txn = transaction_id or self.uid("txn")
        for account, kind, amount in entries:
            row = {"program_id": program_id, "transaction_id": txn, "intent_id": intent_id,
                   "account": account, "type": kind, "amount": Decimal(str(amount)),
                   "currency": currency}
            if created_at is not None:
                row["created_at"] = created_at
            self.insert("ledger_entries", row)
        return txn

    def commission(self, program_id: str, affiliate_id: str, intent_id: str, **kw) -> dict:
        cid = kw.pop("id", self.uid("com"))
        row = {"id": cid, "program_id": program_id, "affiliate_id": affiliate_id,
               "intent_id": intent_id, "level": 1, "rate": Decimal("0.01"),
               "base_amount": Decimal("100.00"), "amount": Decimal("1.00"), "status": "accrued",
               **kw}
        return self.insert("commissions", row)

    def payout_batch(self, program_id: str, **kw) -> dict:
        bid = kw.pop("id", self.uid("batch"))
        row = {"id": bid, "program_id": program_id, "status": "pending_approval",
               "affiliate_count": 1, "total_amount": Decimal("1.00"), **kw}
        return self.insert("payout_batches", row)

    def approval(self, batch_id: str, approver: str, **kw) -> dict:
        return self.insert("payout_approvals", {"batch_id": batch_id, "approver": approver, **kw})

    def endpoint(self, program_id: str, **kw) -> dict:
        eid = kw.pop("id", self.uid("ep"))
        return self.insert("webhook_endpoints", {"id": eid, "program_id": program_id,
                                                 "url": f"http://127.0.0.1:9/{eid}",
                                                 "enabled": True, **kw})

    def delivery(self, endpoint_id: str, **kw) -> dict:
        did = kw.pop("id", self.uid("dlv"))
        row = {"id": did, "endpoint_id": endpoint_id, "event_type": "settlement.completed",
               "payload": {"id": did}, "status": "delivered", "attempt_count": 1, **kw}
        return self.insert("webhook_deliveries", row)

    def heartbeat(self, worker_id: str | None = None, **kw) -> dict:
        return self.insert("worker_heartbeats", {"worker_id": worker_id or self.uid("worker"),
                                                 **kw})

    def job(self, **kw) -> dict:
        return self.insert("jobs", {"queue": "settlement", "status": "waiting", **kw})

    def rpc_call(self, **kw) -> dict:
        return self.insert("rpc_calls", {"provider": "alchemy", "method": "eth_getTransaction",
                                         "latency_ms": Decimal("120"), "ok": True, **kw})

    # -- rows of other schemas (recon state, the admin audit log) ------------------------------
    def insert_into(self, schema: str, table: str, row: dict[str, Any]) -> dict[str, Any]:
        cols = list(row)
        values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row.values()]
        sql = (f"INSERT INTO {schema}.{table} ({', '.join(cols)}) "
               f"VALUES ({', '.join(['%s'] * len(cols))}) RETURNING *")
        with self.db.transaction() as conn:
            return conn.execute(sql, values).fetchone()

    def admin_audit(self, **kw) -> dict:
        return self.insert("admin_audit_log", {"actor": "admin:ops", "method": "POST",
                                               "path": "/admin/queue/pause", "status_code": 200,
                                               "result": "ok", **kw})

    def action(self, **kw) -> dict:
        return self.insert_into("recon", "action_log", {"operator": "alice",
                                                        "action": "queue.pause", "result": "ok",
                                                        **kw})

    def check_run(self, **kw) -> dict:
        import uuid

        row = {"run_id": uuid.uuid4(), "started_at": now(), "finished_at": now(),
               "status": "pass", "engine": "sql", **kw}
        return self.insert_into("recon", "check_runs", row)

    def check_result(self, run_id, name: str, **kw) -> dict:
        return self.insert_into("recon", "check_results", {"run_id": run_id, "name": name,
                                                           "status": "pass", "failing_rows": 0,
                                                           "engine": "sql", **kw})

    def incident(self, **kw) -> dict:
        return self.insert_into("recon", "incidents", {"kind": "ledger_imbalance", "key": "",
                                                       "priority": "P0", "status": "open",
                                                       "title": "Ledger imbalance", **kw})
