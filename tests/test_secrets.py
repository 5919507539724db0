"""Secrets never leak: a representative slice of the product runs with distinctive secret values —
the admin and approver keys, a wrong key someone tried, the Slack and Discord webhook URLs and a
database password — and then every output is searched for them: stdout/stderr of each command,
every file the run wrote (logs, exports, the embedded home), the admin audit log, every `recon`
table, the alert messages received and the console actions' answers. Masked forms are fine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from sge_recon.context import Recon

from .conftest import settings_for
from .factories import ago
from .invariants import INVARIANT_FIGURES
from .platform_helpers import payable_batch
from .test_alerts import receiver  # noqa: F401 - fixture
from .test_console_actions import acting_as

SECRETS = {
    "ADMIN_API_KEY": "adm-SECRET-5b8e1f0c2d",
    "PAYOUT_APPROVER_1": "ap1-SECRET-77c0d9aa31",
    "PAYOUT_APPROVER_2": "ap2-SECRET-e4b2f61c08",
}
WRONG_KEY = "bad-SECRET-key-d1e2f3a4"
SLACK_TOKEN, DISCORD_TOKEN, DB_PASSWORD = ("slk-SECRET-0a9d3c77", "dsc-SECRET-6f2e11b0",
                                           "dbpw-SECRET-39ac7e55")
ALL_SECRETS = [*SECRETS.values(), WRONG_KEY, SLACK_TOKEN, DISCORD_TOKEN, DB_PASSWORD]

pytestmark = pytest.mark.slow


def with_password(url: str) -> str:
    """The same database, with a password in the URL (the embedded server trusts local sockets,
    so it is accepted and ignored — what matters is that it never shows)."""
    return url.replace("postgresql://postgres:@", f"postgresql://postgres:{DB_PASSWORD}@")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Outputs:
    """Everything the slice printed, in one place to search."""

    def __init__(self):
        self.texts: dict[str, str] = {}

    def run(self, label: str, args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                                capture_output=True, text=True, timeout=180, **kw)
        self.texts[label] = result.stdout + result.stderr
        return result


def leaks(text: str) -> list[str]:
    return [s for s in ALL_SECRETS if s in text]


def test_no_secret_appears_in_any_output_log_table_or_export(db_url, db, factory, receiver,
                                                            tmp_path):  # noqa: F811
    url = with_password(db_url)
    slack = f"{receiver.base}/slack/T000/B000/{SLACK_TOKEN}"
    discord = f"{receiver.base}/discord/api/webhooks/1/{DISCORD_TOKEN}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, SGE_RECON_HOME=str(tmp_path / "home"), SLACK_WEBHOOK_URL=slack,
               DISCORD_WEBHOOK_URL=discord, **SECRETS)
    setup = payable_batch(factory)
    program = setup["program"]
    endpoint = factory.endpoint(program["id"])
    factory.delivery(endpoint["id"], status="failed", attempt_count=5, last_error="HTTP 503",
                     last_attempt_at=ago(hours=1))  # an alert to deliver
    out = Outputs()

    # CLI commands with every key set, including the errors they print
    assert out.run("db init", ["db", "init"], env).returncode == 0
    assert out.run("settings", ["settings", "--show"], env).returncode == 0
    assert "****" in out.texts["settings"]  # shown masked
    assert out.run("check", ["check", "--format", "json"], env).returncode in (1, 2)
    unreachable = dict(env, DATABASE_URL=f"postgresql://app:{DB_PASSWORD}@127.0.0.1:9/sge")
    assert out.run("check unreachable", ["check"], unreachable).returncode == 3
    assert out.run("bad slack url", ["check"],
                   dict(env, SLACK_WEBHOOK_URL=f"ftp://x/{SLACK_TOKEN}")).returncode != 0

    # the admin API with its audit log: right keys, a wrong key, a key of the wrong role
    port = free_port()
    api_log = open(tmp_path / "api.log", "w")
    api = subprocess.Popen([sys.executable, "-m", "sge_recon", "api", "--port", str(port)],
                           env=env, stdout=api_log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        batch = setup["batch"]["id"]
        calls = [
            ("POST", "/admin/queue/pause", SECRETS["ADMIN_API_KEY"]),
            ("POST", "/admin/queue/resume", WRONG_KEY),
            ("POST", f"/admin/payouts/batch/{batch}/approve", SECRETS["ADMIN_API_KEY"]),
            ("POST", f"/admin/payouts/batch/{batch}/approve", SECRETS["PAYOUT_APPROVER_1"]),
            ("POST", f"/admin/payouts/batch/{batch}/approve", SECRETS["PAYOUT_APPROVER_1"]),
            ("GET", "/admin/queue/status", SECRETS["PAYOUT_APPROVER_2"]),
            ("POST", "/admin/reconciliation/force-reconcile", SECRETS["ADMIN_API_KEY"]),
        ]
        for method, path, key in calls:
            answer = httpx.request(method, base + path, headers={"Authorization": f"Bearer {key}"},
                                   json={"programId": program["id"]}, timeout=30)
            assert answer.status_code < 500
            out.texts[f"api answer {method} {path}"] = answer.text + str(dict(answer.headers))

        # a console action with an approver key typed in, against the same API
        recon = Recon(settings_for(url, SGE_ADMIN_API_URL=base, **SECRETS))
        acting_as(url, bob="approver2", root="admin", amy="approver1")
        outcome = recon.console.actions.approve_batch("bob", batch, SECRETS["PAYOUT_APPROVER_2"])
        assert outcome.ok, outcome
        executed = recon.console.actions.execute_batch("root", batch)
        assert executed.ok, executed
        # a wrong key sent to the API (by another approver: bob's second approval of the
        # batch would be refused by the console itself, never sent)
        refused = recon.console.actions.approve_batch("amy", batch, WRONG_KEY)
        assert not refused.ok and refused.status_code is not None, refused
        out.texts["console outcomes"] = repr([outcome, executed, refused])
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=30)
        api_log.close()

    # an alert delivery and an export, from the scheduler and the CLI
    assert out.run("scheduler once", ["scheduler", "--once", "--no-metrics"], env).returncode == 0
    assert receiver.delivered(f"/slack/T000/B000/{SLACK_TOKEN}"), out.texts["scheduler once"]
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    exported = out.run("export", ["export", "--period", month, "--force", "--out",
                                    str(tmp_path / "exports")],
                       env)
    assert exported.returncode == 0, exported.stderr
    assert out.run("export verify", ["export", "verify", str(tmp_path / "exports" / month)],
                   env).returncode == 0

    # -- search everything ---------------------------------------------------------------------
    sources = dict(out.texts)
    sources["alert messages"] = repr([p["json"] for p in receiver.posts])
    files = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "api.log" for p in files)
    for path in files:
        sources[f"file {path.relative_to(tmp_path)}"] = path.read_bytes().decode("latin-1")
    tables = db.fetch_all("SELECT table_schema || '.' || table_name AS name FROM"
                          " information_schema.tables WHERE table_schema = 'recon'"
                          " OR table_name = 'admin_audit_log'")
    assert len(tables) > 5
    for t in tables:
        rows = db.fetch_all(f"SELECT x::text AS row FROM {t['name']} x")
        sources[f"table {t['name']}"] = "\n".join(r["row"] for r in rows)
    audit = db.fetch_one("SELECT count(*) AS n FROM public.admin_audit_log")["n"]
    posts = sum(1 for method, _, _ in calls if method == "POST")
    assert audit == posts + 3  # every state-changing call audited (refused ones too), no key

    assert leaks(f"{slack} {url}") == [SLACK_TOKEN, DB_PASSWORD]  # the search does find them
    found = {label: leaks(text) for label, text in sources.items() if leaks(text)}
    assert not found, f"secrets leaked: {found}"
    INVARIANT_FIGURES["secret scans (sources searched)"] += len(sources)
