"""Shared by the console tests: AppTest against the real test database and admin API, and a
small platform with something wrong in every area the console shows."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from sge_recon.accounts import AccountService
from sge_recon.db import Database
from sge_recon.errors import ReconError

from .factories import ago
from .platform_helpers import KEYS

APP = Path(__file__).resolve().parent.parent / "app" / "main.py"
PASSWORD = "test-password-123"
# the console's test accounts: name -> (role, approver key)
ACCOUNTS = {"ada": ("operator", None), "vic": ("viewer", None), "alice": ("approver", 1),
            "bob": ("approver", 2), "root": ("admin", None)}
PAGES = ["overview", "ledger", "intents", "payouts", "webhooks", "queue", "trends", "slos",
         "runbook", "incidents", "exports"]


def console_env(monkeypatch, db_url: str, api_url: str, tmp_path: Path, accounts: bool = True,
                **extra) -> None:
    """The environment the console process would have; caches from earlier tests cleared."""
    for name in ("SGE_RECON_CONFIG", "CONSOLE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SGE_ADMIN_API_URL", api_url)
    monkeypatch.setenv("SGE_RECON_HOME", str(tmp_path / "home"))
    for name, value in KEYS.items():  # the console holds the keys; accounts are bound to them
        monkeypatch.setenv(name, value)
    for name, value in extra.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(tmp_path)  # audit exports land under tmp_path/exports
    st.cache_resource.clear()
    st.cache_data.clear()
    if accounts:
        create_accounts(db_url)


def create_accounts(db_url: str) -> None:
    service = AccountService(Database(db_url))
    for name, (role, slot) in ACCOUNTS.items():
        service.add(name, role, PASSWORD, approver_slot=slot, replace=True)


def app(operator: str | None = "ada") -> AppTest:
    """The console, signed in as ``operator`` (one of ACCOUNTS; None: nobody signed in). The
    sign-in form itself is exercised in test_console_auth.py."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if operator:  # what a sign-in leaves: the account and its live session (recon.console_sessions)
        at.session_state["account"] = operator
        try:
            at.session_state["session_token"] = AccountService(
                Database(os.environ["DATABASE_URL"])).start_session(operator)
        except ReconError:  # the database is down: no session, so nobody is signed in
            pass
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    if not getattr(at, "_ran_once", False):  # switch_page needs one run first
        at.run()
        at._ran_once = True
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, *columns: str):
    """The first table on the page that has these columns (as a pandas DataFrame)."""
    for element in at.dataframe:
        value = element.value
        if all(c in value.columns for c in columns):
            return value
    raise AssertionError(f"no table with columns {columns} on the page")


def texts(at: AppTest) -> str:
    """Everything the page shows in words (markdown, captions, banners, metrics)."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "error", "warning",
                 "info", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def troubled_platform(factory) -> dict:
    """One of each problem: a stuck intent, an unbalanced transaction, a pending batch, a
    failed webhook delivery, a silent and a live worker, waiting jobs, an open incident."""
    program = factory.program(id="prog_console")
    user = factory.user(program["id"])
    done = factory.intent(program["id"], user["id"], created_at=ago(minutes=30),
                          completed_at=ago(minutes=30) + timedelta(seconds=3))
    factory.settlement(done["id"], program["id"])
    factory.journal(program["id"], [("user:" + user["id"], "debit", "100.00"),
                                    ("treasury", "credit", "100.00")], intent_id=done["id"])
    stuck = factory.intent(program["id"], user["id"], status="processing",
                           amount=Decimal("250.00"), status_changed_at=ago(minutes=40))
    bad_txn = factory.journal(program["id"], [("treasury", "debit", "10.00"),
                                              ("affiliate:x", "credit", "9.99")])
    batch = factory.payout_batch(program["id"], total_amount=Decimal("42.00"),
                                 created_at=ago(hours=30))
    endpoint = factory.endpoint(program["id"])
    failed = factory.delivery(endpoint["id"], status="failed", attempt_count=5,
                              last_error="HTTP 500 from endpoint", last_attempt_at=ago(minutes=5))
    factory.heartbeat("worker-live")
    factory.heartbeat("worker-silent", last_seen_at=ago(minutes=10))
    for _ in range(3):
        factory.job(intent_id=stuck["id"])
    factory.rpc_call()
    with factory.db.transaction() as conn:
        incident = conn.execute(
            "INSERT INTO recon.incidents (kind, key, priority, status, title, money_at_stake) "
            "VALUES ('ledger_imbalance', 'prog_console/USD', 'P0', 'open', "
            "'Ledger imbalance in prog_console USD', 0.01) RETURNING id").fetchone()
    return {"program": program, "stuck": stuck, "bad_txn": bad_txn, "batch": batch,
            "delivery": failed, "incident_id": incident["id"]}
