"""On SGE a console account acts as the person's SGE admin id (audit aud-j D1).

SGE's /api/v2 identifies the operator by X-Admin-Id and records it as the batch's "approvedById";
its two-person rule compares that with "createdById" (ids like ``ops:alice``). Recon sent the
account's name ('alice'), so the batch's creator approved their own batch through recon and the
quorum check passed. Now the account carries the person's SGE admin id (recon 0038,
``users add --platform-id`` / ``users set-platform-id``), which is what is sent; an account without
one is refused with the command that sets it; recon itself refuses an approval by the batch's
creator; and payout_approval_quorum counts an approval recorded under an account's name as the
account's platform id. Real PostgreSQL with the SGE schema, the /api/v2 stand-in over HTTP.
"""

from __future__ import annotations

import pytest

from sge_recon.accounts import AccountService
from sge_recon.context import Recon
from sge_recon.db import Database

from .conftest import settings_for
from .test_accounts import users
from .test_console_actions import acting_as
from .test_profile_sge import sge_database, sge_recon
from .test_sge_admin_api import new_pending_batch, sge  # noqa: F401 (the module's fixture)


@pytest.fixture(scope="module")
def console(sge):  # noqa: F811
    url, db, api = sge
    recon = Recon(settings_for(url, PLATFORM_PROFILE="sge", SGE_ADMIN_API_URL=api))
    recon.init_db()
    return url, db, recon.console


def batch_row(db, batch_id: str) -> dict:
    return db.fetch_one('SELECT status, "createdById" AS created, "approvedById" AS approved '
                        'FROM public."PayoutBatch" WHERE id = %s', (batch_id,))


def sge_audit(db, batch_id: str) -> list[tuple]:
    return [(r["action"], r["actor"]) for r in db.fetch_all(
        'SELECT action, "actorId" AS actor FROM public."AuditLog" WHERE "targetId" = %s '
        'ORDER BY "createdAt"', (batch_id,))]


def last_log(db) -> dict:
    return db.fetch_one("SELECT operator, action, target, result, status_code, error, request "
                        "FROM recon.action_log ORDER BY id DESC LIMIT 1")


def test_the_auditors_scenario_the_creator_cannot_approve_their_own_batch(console):
    """aud-j R6: 'ops:alice' created the batch; as recon account 'alice' she is refused — first
    because the account has no SGE admin id, then, with it set, by recon itself as the creator.
    Nothing reaches SGE, every refusal is recorded."""
    url, db, c = console
    acting_as(url, alice="approver1")
    batch = new_pending_batch(db)
    assert batch["created_by"] == "ops:alice"

    first = c.actions.approve_batch("alice", batch["id"], "")
    assert not first.ok and first.logged
    assert "sge-recon users set-platform-id alice" in first.message
    AccountService(Database(url)).set_platform_id("alice", "ops:alice", by="cli:test")
    second = c.actions.approve_batch("alice", batch["id"], "")
    assert not second.ok and second.logged, second.message
    assert second.message.startswith("Refused: ") and "created payout batch" in second.message
    assert "ops:alice" in second.message
    row = last_log(db)
    assert (row["operator"], row["action"], row["target"], row["result"], row["status_code"]) == (
        "alice", "approve_payout_batch", batch["id"], "failed", None)
    assert "created payout batch" in row["error"]
    assert batch_row(db, batch["id"]) == {"status": "PENDING", "created": "ops:alice",
                                          "approved": None}
    assert sge_audit(db, batch["id"]) == []  # nothing was sent to SGE


def test_the_creator_under_a_variant_of_their_id_is_refused_as_the_creator(console):
    """SGE compares X-Admin-Id exactly, so a batch created as 'OPS:Alice ' would be approved by
    'ops:alice' (the same person) if recon sent it: recon refuses it as the creator's own, as
    payout_approval_quorum would count it (one person), and nothing reaches SGE."""
    url, db, c = console
    acting_as(url, alice="approver1")
    AccountService(Database(url)).set_platform_id("alice", "ops:alice", by="cli:test")
    batch = new_pending_batch(db)
    db.execute('UPDATE public."PayoutBatch" SET "createdById" = %s WHERE id = %s',
               ("OPS:Alice ", batch["id"]))
    refused = c.actions.approve_batch("alice", batch["id"], "")
    assert not refused.ok and refused.logged, refused.message
    assert "created payout batch" in refused.message
    assert batch_row(db, batch["id"]) == {"status": "PENDING", "created": "OPS:Alice ",
                                          "approved": None}
    assert sge_audit(db, batch["id"]) == []


def test_an_account_with_its_platform_id_approves_and_sge_records_that_id(console):
    url, db, c = console
    acting_as(url, bob="approver2", root="admin")
    accounts = AccountService(Database(url))
    accounts.set_platform_id("bob", "finance:bob")
    accounts.set_platform_id("root", "finance:zoe")
    batch = new_pending_batch(db)
    approved = c.actions.approve_batch("bob", batch["id"], "")
    assert approved.ok, approved.message
    assert batch_row(db, batch["id"]) == {"status": "APPROVED", "created": "ops:alice",
                                          "approved": "finance:bob"}
    assert last_log(db)["request"] == {"batchId": batch["id"], "adminId": "finance:bob"}
    executed = c.actions.execute_batch("root", batch["id"])
    assert executed.ok, executed.message
    assert sge_audit(db, batch["id"]) == [("PAYOUT_BATCH_APPROVED", "finance:bob"),
                                          ("PAYOUT_BATCH_EXECUTED", "finance:zoe")]


def test_an_account_without_a_platform_id_is_refused_with_the_command(console):
    url, db, c = console
    acting_as(url, alice="approver1", dave="admin")  # again: no platform id
    batch = new_pending_batch(db)
    for who, act in (("alice", lambda: c.actions.approve_batch("alice", batch["id"], "")),
                     ("dave", lambda: c.actions.execute_batch("dave", batch["id"]))):
        outcome = act()
        assert not outcome.ok and outcome.logged
        assert outcome.message.startswith("Refused: ") and "nothing was done" in outcome.message
        assert f"`sge-recon users set-platform-id {who} <SGE admin id>`" in outcome.message
        row = last_log(db)
        assert (row["operator"], row["result"], row["status_code"]) == (who, "failed", None)
        assert "set-platform-id" in row["error"]
    assert batch_row(db, batch["id"])["status"] == "PENDING"
    assert sge_audit(db, batch["id"]) == []
    # what SGE has no endpoint for still says so (not this refusal)
    assert "no retry-intent endpoint" in c.actions.retry_intent("dave", "i-1").message


def test_the_quorum_check_flags_a_batch_its_creator_approved_under_the_account_name(
        new_database):
    """A batch approved through recon before the fix holds "approvedById" = the account's name:
    with the account's platform id set, that approval is its creator's."""
    url, _ = sge_database(new_database, intents=300)
    recon = sge_recon(url)
    db = Database(url)
    assert recon.checks.run(only=["payout_approval_quorum"], store=False).status == "pass"
    planted = new_pending_batch(db)
    other = new_pending_batch(db)
    db.execute('UPDATE "PayoutBatch" SET status = \'APPROVED\', "approvedById" = %s, '
               '"approvedAt" = now() AT TIME ZONE \'UTC\' WHERE id = %s', ("alice", planted["id"]))
    db.execute('UPDATE "PayoutBatch" SET status = \'APPROVED\', "approvedById" = %s, '
               '"approvedAt" = now() AT TIME ZONE \'UTC\' WHERE id = %s', ("bob", other["id"]))
    AccountService(db).add("alice", "approver", "a long test password", approver_slot=1,
                           platform_id="ops:alice")
    AccountService(db).add("bob", "approver", "a long test password", approver_slot=2,
                           platform_id="finance:bob")
    result = recon.checks.run(only=["payout_approval_quorum"], store=False).by_name()[
        "payout_approval_quorum"]
    assert result.status == "fail"
    assert [(r["batch_id"], r["approvals"]) for r in result.rows] == [(planted["id"], 1)]


def test_users_cli_sets_validates_and_audits_the_platform_id(cli_env, db):
    out = users(["add", "alice", "--role", "approver", "--approver-key", "1", "--platform-id",
                 "ops:alice"], cli_env, "a long enough secret\n")
    assert out.returncode == 0, out.stderr
    assert "platform id ops:alice" in out.stdout
    assert users(["add", "ann", "--role", "admin"], cli_env,
                 "a long enough secret\n").returncode == 0
    for args, words in ((["set-platform-id", "ann", "ops:alice"], "already carried by 'alice'"),
                        (["set-platform-id", "ann", "ops:ännie"], "printable ASCII"),
                        (["set-platform-id", "ann"], "or --clear"),
                        (["set-platform-id", "nobody", "x:y"], "no account named 'nobody'")):
        out = users(args, cli_env)
        assert out.returncode == 3 and words in out.stderr and "Traceback" not in out.stderr, \
            (args, out.stderr)
    out = users(["set-platform-id", "ann", "finance:ann"], cli_env)
    assert out.returncode == 0 and "finance:ann" in out.stdout, out.stderr
    assert "finance:ann" in users(["list"], cli_env).stdout
    assert users(["set-platform-id", "ann", "--clear"], cli_env).returncode == 0
    ids = {r["name"]: r["platform_id"] for r in db.fetch_all(
        "SELECT name, platform_id FROM recon.console_users")}
    assert ids == {"alice": "ops:alice", "ann": None}
    audit = db.fetch_all("SELECT action, target, request FROM recon.action_log "
                         "WHERE action = 'set_platform_id' ORDER BY id")
    assert [(a["target"], a["request"]) for a in audit] == [
        ("account:ann", {"platformId": "finance:ann", "before": None}),
        ("account:ann", {"platformId": None, "before": "finance:ann"})]


def test_the_sge_demos_approvers_and_admin_carry_sge_admin_ids(recon, tmp_path):
    """`sge-recon demo --profile sge`: the approver and admin accounts can act on /api/v2 (they
    carry SGE admin ids that created none of the stand-in's batches); the contract demo clears
    them again."""
    from dataclasses import replace

    from refplatform.demo import DEMO_SGE_IDS, Demo, DemoOptions

    settings = replace(recon.settings, SGE_RECON_HOME=str(tmp_path / "home"))
    settings.home.mkdir(parents=True)
    Demo(settings, DemoOptions(profile="sge"), set(), echo=lambda _: None)._demo_accounts(recon)
    ids = {a.name: a.platform_id for a in recon.accounts.list()}
    assert ids == {"viewer": None, "operator": None, **DEMO_SGE_IDS}
    assert not {"ops:alice", "ops:carlos", "ops:dana"} & set(DEMO_SGE_IDS.values())
    Demo(settings, DemoOptions(), set(), echo=lambda _: None)._demo_accounts(recon)
    assert {a.platform_id for a in recon.accounts.list()} == {None}
