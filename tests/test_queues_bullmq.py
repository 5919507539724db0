"""BullMQ on Redis as the SGE platform's queue source (DESIGN §11, issue 17).

A real redis-server (conftest ``redis_server``) holds real BullMQ jobs made by BullMQ's own
Python package (tests/redis_support.py): waiting, prioritized, delayed, active, failed and stalled
jobs, and a real Worker processing them. With ``PLATFORM_PROFILE=sge`` and ``REDIS_URL`` set,
``queue_depth`` and ``worker_status`` are measured there with the catalogue's thresholds; Redis
stopped is an error sentence and nothing else changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from refplatform.sge_platform import create_sge_schema, load_sge_platform
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.metrics.collector import core_gauges
from sge_recon.metrics.facts import gather_facts

from .conftest import settings_for
from .redis_support import BullMQWorld
from .test_console_actions import acting_as

QUEUE = "intents"
ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sge_url(new_database):
    url = new_database(empty=True)
    db = Database(url)
    create_sge_schema(db)
    load_sge_platform(db, intents=200, seed=3)
    return url


@pytest.fixture(scope="module")
def world(redis_server):
    """intents: 1 failed (a worker failed it), 1 active held by the live worker, 1 stalled (its
    worker died holding it), 3 waiting, 1 prioritized, 1 delayed. payouts: 2 waiting."""
    w = BullMQWorld(redis_server.url)
    for q in (QUEUE, "payouts", "reconciler"):
        w.obliterate(q)
    failed_id = w.add(QUEUE, "fail", {"intentId": "int_failed"}, jobId="job-failed", attempts=1)
    w.add(QUEUE, "slow", {"intentId": "int_slow"}, jobId="job-slow")
    w.start_worker(QUEUE, name="settler-1")
    w.wait_for(QUEUE, failed=1, active=1)
    w.add(QUEUE, "settle", {"intentId": "int_stall"}, jobId="job-stall")
    stalled_id = w.stall_one(QUEUE)
    for i in range(3):
        w.add(QUEUE, "settle", {"intentId": f"int_w{i}"}, jobId=f"job-w{i}")
    w.add(QUEUE, "settle", {"intentId": "int_p"}, jobId="job-prio", priority=3)
    w.add(QUEUE, "settle", {"intentId": "int_d"}, jobId="job-delayed", delay=3_600_000)
    for i in range(2):
        w.add("payouts", "execute", {"batchId": f"b{i}"})
    w.failed_id, w.stalled_id = failed_id, stalled_id
    yield w
    w.close()


def recon_for(url, redis_url=None, **overrides) -> Recon:
    env = {"PLATFORM_PROFILE": "sge", **overrides}
    if redis_url:
        env["REDIS_URL"] = redis_url
    recon = Recon(settings_for(url, **env))
    recon.init_db()
    return recon


def test_the_bullmq_source_reads_every_state_with_bullmqs_own_client(sge_url, world,
                                                                     redis_server):
    recon = recon_for(sge_url, redis_server.url)
    source = recon.checks.queue_source()
    snap = source.depth()
    c = snap.settlement
    assert (c.waiting, c.prioritized, c.delayed, c.active, c.failed) == (3, 1, 1, 2, 1)
    assert snap.depth == 4 and snap.counts["payouts"].waiting == 2
    assert [j.id for j in snap.stalled] == [world.stalled_id]
    assert snap.worker_state == "degraded"  # a live worker, and a job whose worker died
    assert {w.name for w in snap.settlement_workers} == {"bull:intents:w:settler-1"}
    assert snap.oldest_waiting_at is not None
    [failed] = source.jobs(QUEUE, "failed")
    assert failed.id == "job-failed" and failed.attempts_made == 1
    assert failed.attempts_allowed == 1 and "RPC timeout" in failed.failed_reason
    [delayed] = source.jobs(QUEUE, "delayed")
    assert delayed.id == "job-delayed" and delayed.run_at > datetime.now(timezone.utc)
    active = {j.id: j.locked for j in source.jobs(QUEUE, "active")}
    assert active == {"job-slow": True, "job-stall": False}


def test_check_measures_depth_and_workers_with_the_catalogues_thresholds(sge_url, world,
                                                                        redis_server):
    recon = recon_for(sge_url, redis_server.url, QUEUE_DEPTH_WARN=2, QUEUE_DEPTH_FAIL=3)
    run = recon.checks.run(trigger="test")
    results = run.by_name()
    depth, workers = results["queue_depth"], results["worker_status"]
    assert (depth.status, depth.value, depth.engine) == ("fail", Decimal(4), "bullmq")
    assert depth.details["delayed"] == 1 and depth.details["failed"] == 1
    assert depth.details["active"] == 2 and depth.details["prioritized"] == 1
    assert workers.status == "warn" and workers.to_json()["value"] == "degraded"
    assert workers.details["stalled_jobs"] == [world.stalled_id]
    # the other checks ran on PostgreSQL as before; the webhook ones stay unavailable
    assert results["ledger_balance"].status == "pass"
    assert results["webhook_retries"].status == "unavailable"
    # with the default thresholds the same depth passes
    assert recon_for(sge_url, redis_server.url).checks.run(
        only=["queue_depth"], store=False).checks[0].status == "pass"


def test_facts_metrics_and_overview_read_the_same_bullmq_numbers(sge_url, world, redis_server):
    recon = recon_for(sge_url, redis_server.url)
    facts = gather_facts(recon.db, recon.settings, datetime.now(timezone.utc))
    assert "queue_depth" not in facts.unavailable and "worker_status" not in facts.unavailable
    assert facts.queue_depth == 4 and facts.worker_status == "degraded"
    gauges = {g.name for g in core_gauges(facts)}
    assert {"sge_queue_depth_total", "sge_worker_status"} <= gauges
    overview = recon.console.overview()
    lights = {m.name: (m.value, m.light.value) for m in overview.metrics}
    assert lights["Queue depth"] == ("4", "green")
    assert lights["Worker status"] == ("degraded", "amber")


def test_without_redis_url_the_queue_checks_say_to_set_it(sge_url):
    recon = recon_for(sge_url)
    run = recon.checks.run(only=["queue_depth", "worker_status"], store=False)
    for r in run.checks:
        assert r.status == "unavailable" and "set REDIS_URL" in r.reason


def test_cli_check_reports_the_true_depth_and_workers(sge_url, world, redis_server, tmp_path):
    env = {"DATABASE_URL": sge_url, "PLATFORM_PROFILE": "sge", "REDIS_URL": redis_server.url,
           "PATH": "/usr/bin:/bin", "SGE_RECON_HOME": str(tmp_path)}
    import os
    env["SGE_RECON_CONFIG"] = os.environ["SGE_RECON_CONFIG"]
    out = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--only",
                          "queue_depth,worker_status", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1, out.stderr  # worker_status warns (a stalled job)
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["queue_depth"]["value"] == 4 and checks["queue_depth"]["status"] == "pass"
    assert checks["worker_status"]["value"] == "degraded"


def test_no_worker_is_down(sge_url, redis_server):
    w = BullMQWorld(redis_server.url)
    try:
        w.obliterate("reconciler")
        w.add("reconciler", "reconcile", {}, jobId="job-lonely", delay=3_600_000)
        recon = recon_for(sge_url, redis_server.url)
        source = recon.checks.queue_source()
        w.close_workers()
        snap = source.depth()
        # the module's settler still runs on intents; make a source on a queue nobody serves
        from sge_recon.db.bullmq import BullMQSource
        from sge_recon.db.relations import QueueDeclaration

        lonely = BullMQSource(redis_server.url, QueueDeclaration(
            settlement_queue="reconciler", queues=("reconciler",)))
        assert lonely.depth().worker_state == "down"
        assert snap.counts["reconciler"].depth == 0
    finally:
        w.close()


def test_workers_down_on_bullmq_alert_after_five_minutes_of_stored_failures(sge_url, world,
                                                                          redis_server,
                                                                          tmp_path):
    """The settlement queue has no worker: worker_status fails; the worker_down incident opens
    only once the stored failures span WORKER_DOWN_ALERT_MINUTES (BullMQ keeps no heartbeats)."""
    from datetime import timedelta

    from sge_recon.alerts.rules import evaluate_rules

    profile = tmp_path / "sge-reconciler.yml"
    profile.write_text((ROOT / "profiles" / "sge.yml").read_text().replace(
        "settlement_queue: intents", "settlement_queue: reconciler"))
    url = sge_url
    recon = recon_for(url, redis_server.url, PLATFORM_PROFILE=str(profile))
    [result] = recon.checks.run(only=["worker_status"], trigger="test").checks
    assert result.status == "fail" and result.to_json()["value"] == "down"
    now = datetime.now(timezone.utc)
    facts = gather_facts(recon.db, recon.settings, now)
    assert facts.worker_status == "down"
    assert not [f for f in evaluate_rules(facts, recon.settings) if f.kind == "worker_down"]
    with recon.db.transaction() as conn:  # the failures began 6 minutes ago (earlier runs: older)
        conn.execute("UPDATE recon.check_runs SET started_at = started_at - interval '1 day'"
                     " WHERE run_id IN (SELECT run_id FROM recon.check_results WHERE name = "
                     "'worker_status' AND status <> 'fail')")
        conn.execute("UPDATE recon.check_runs SET started_at = started_at - interval '6 minutes'"
                     " WHERE run_id IN (SELECT run_id FROM recon.check_results WHERE name = "
                     "'worker_status' AND status = 'fail')")
    facts = gather_facts(recon.db, recon.settings, now + timedelta(seconds=1))
    [finding] = [f for f in evaluate_rules(facts, recon.settings) if f.kind == "worker_down"]
    assert int(finding.details["down_seconds"]) >= 360
    assert finding.title.startswith("No worker registered on BullMQ queue reconciler on Redis")


def test_node_workers_are_recognised_by_bullmqs_node_client_name(sge_url, redis_server):
    """BullMQ for Node (the SGE workers) names a worker's connection <prefix>:<base64 of the
    queue name>[:w:<name>] (queue-base.ts clientName); the Python package uses the plain name.
    Both count as workers of the queue."""
    import base64

    import redis

    from sge_recon.db.bullmq import BullMQSource
    from sge_recon.db.relations import QueueDeclaration

    # the queue exists (made by BullMQ itself) whichever test ran before on this worker
    w = BullMQWorld(redis_server.url)
    w.obliterate("reconciler")
    w.add("reconciler", "reconcile", {}, jobId="job-node", delay=3_600_000)
    node = redis.Redis.from_url(redis_server.url)
    name = base64.b64encode(b"reconciler").decode()
    node.client_setname(f"bull:{name}:w:node-reconciler")
    try:
        source = BullMQSource(redis_server.url, QueueDeclaration(
            settlement_queue="reconciler", queues=("reconciler",)))
        snap = source.depth()
        assert [w.name for w in snap.settlement_workers] == [f"bull:{name}:w:node-reconciler"]
        assert snap.worker_state == "healthy"
    finally:
        node.close()
    try:
        assert source.depth().worker_state == "down"
    finally:
        w.close()


def test_queue_page_lists_failed_jobs_and_retries_one_through_bullmq(sge_url, world,
                                                                     redis_server, monkeypatch,
                                                                     tmp_path):
    from .console_support import app, console_env, frame, open_page, texts

    recon_for(sge_url, redis_server.url)  # db init of the sge views
    console_env(monkeypatch, sge_url, "http://127.0.0.1:9", tmp_path, PLATFORM_PROFILE="sge",
                REDIS_URL=redis_server.url)
    at = open_page(app("root"), "queue")  # queue actions are for admin accounts
    failed = frame(at, "job_id", "attempts", "error")
    assert list(failed["job_id"]) == ["job-failed"]
    assert "RPC timeout" in failed["error"][0] and failed["attempts"][0] == "1 of 1"
    delayed = frame(at, "job_id", "runs_at")
    assert list(delayed["job_id"]) == ["job-delayed"]
    counts = frame(at, "queue", "waiting", "prioritized", "delayed", "active", "failed")
    assert counts.set_index("queue").loc["intents", "waiting"] == 3
    words = texts(at)
    assert "stalled job" in words and "Depth (waiting + prioritized + due) 4" in words
    assert at.button(key="retry_intents").disabled  # nothing ticked: nothing to retry
    at.multiselect(key="retry_pick_intents").select("job-failed").run()
    at.button(key="retry_intents").click().run()
    at.button(key="confirm_action").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Moved back to waiting 1 of 1 job(s)." in texts(at)
    operator = open_page(app("ada"), "queue")  # an operator sees the jobs but cannot act
    assert not [b for b in operator.button if b.key == "retry_intents"]
    assert "only an admin account pauses, resumes or retries" in texts(operator)
    # the running worker takes the retried job and fails it again; it was retried for real
    counts = world.counts(QUEUE)
    assert counts["failed"] + counts["waiting"] + counts["active"] >= 1
    log = recon_for(sge_url).console.recent_actions(5)
    assert (log[0]["action"], log[0]["target"], log[0]["operator"], log[0]["result"]) == \
        ("retry_job", "bullmq:intents:job-failed", "root", "ok")


def test_a_queue_dialog_of_an_admin_demoted_meanwhile_is_refused(sge_url, world, redis_server,
                                                                  monkeypatch, tmp_path):
    """Audit f #1b: the BullMQ actions need an admin at Confirm too, not merely an operator. An
    admin demoted by `users add --replace` is signed out at the next click (session 10's sign-in
    audit), so the dialog never confirms; the library refuses and records an operator, a viewer
    and a made-up name."""
    from sge_recon.accounts import AccountService

    from .console_support import PASSWORD, app, console_env, open_page, texts

    recon = recon_for(sge_url, redis_server.url)
    console_env(monkeypatch, sge_url, "http://127.0.0.1:9", tmp_path, PLATFORM_PROFILE="sge",
                REDIS_URL=redis_server.url)
    at = open_page(app("root"), "queue")
    at.button(key="pause_payouts").click().run()
    AccountService(Database(sge_url)).add("root", "operator", PASSWORD, replace=True)
    at.button(key="confirm_action").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # `users add --replace` ended root's sign-in (its open tab too): the sign-in form, the dialog
    # gone, nothing sent to Redis
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "pending_action" not in at.session_state
    assert "Sign in with your console account" in texts(at)
    assert world.call(world.queue("payouts").isPaused()) is False
    actions = recon.console.actions
    for name in ("root", "vic", "vic-viewer-nonexistent"):  # operator, viewer, nobody
        refused = actions.pause_bullmq_queue(name, "payouts")
        assert not refused.ok and refused.logged and refused.message.startswith("Refused: ")
    assert world.call(world.queue("payouts").isPaused()) is False
    log = recon.console.recent_actions(3)
    assert [(r["operator"], r["result"]) for r in log] == [
        ("vic-viewer-nonexistent", "failed"), ("vic", "failed"), ("root", "failed")]
    acting_as(sge_url, root="admin")


def test_retries_racing_for_one_job_move_it_once_and_are_all_recorded(sge_url, redis_server):
    """Audit f #5: 8 retries of one failed job at once. BullMQ moves it once; the others lose
    the race inside BullMQ (a TypeError from job.retry), which is now the same refusal as any
    "not failed" job, recorded, not an error that escapes unlogged. An id with NUL is recorded
    too (scrubbed)."""
    import threading

    race = BullMQWorld(redis_server.url)
    try:
        race.obliterate("reconciler")
        race.add("reconciler", "fail", {"intentId": "int_race"}, jobId="job-race", attempts=1)
        race.start_worker("reconciler", name="racer")
        race.wait_for("reconciler", failed=1)
        race.close_workers()  # nobody takes it again: one retry must be the only change
        recon = recon_for(sge_url, redis_server.url)
        acting_as(sge_url, root="admin")
        actions = recon.console.actions
        before = len(recon.console.recent_actions(1000))
        barrier, results = threading.Barrier(8), []

        def retry() -> None:
            barrier.wait()
            try:
                results.append(actions.retry_bullmq_job("root", "reconciler", "job-race"))
            except Exception as exc:  # noqa: BLE001 - what the test is about
                results.append(exc)
        threads = [threading.Thread(target=retry) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(not isinstance(r, Exception) for r in results), results
        assert sum(r.ok for r in results) == 1, [r.message for r in results]
        for refused in (r for r in results if not r.ok):
            assert refused.logged and "not failed" in refused.message, refused.message
        counts = race.counts("reconciler")
        assert (counts["failed"], counts["waiting"]) == (0, 1)
        nul = actions.retry_bullmq_job("root", "reconciler", "job\x00race")
        assert not nul.ok and nul.logged, nul.message
        log = recon.console.recent_actions(1000)
        assert len(log) - before == 9
        assert log[0]["target"] == "bullmq:reconciler:job\ufffdrace"
    finally:
        race.obliterate("reconciler")
        race.close()


def test_pause_and_resume_a_bullmq_queue_are_recorded(sge_url, world, redis_server):
    recon = recon_for(sge_url, redis_server.url)
    acting_as(sge_url, root="admin")
    actions = recon.console.actions
    assert actions.pause_bullmq_queue("root", "payouts").ok
    assert world.call(world.queue("payouts").isPaused()) is True
    again = actions.pause_bullmq_queue("root", "payouts")
    assert again.ok and "already paused" in again.message
    assert actions.resume_bullmq_queue("root", "payouts").ok
    assert world.call(world.queue("payouts").isPaused()) is False
    refused = actions.retry_bullmq_job("root", "intents", "job-w0")
    assert not refused.ok and "not failed" in refused.message
    unknown = actions.pause_bullmq_queue("root", "nope")
    assert not unknown.ok and "not one of the platform's queues" in unknown.message


def test_a_paused_bullmq_settlement_queue_is_the_cause_of_its_backlog(sge_url, world,
                                                                     redis_server):
    from sge_recon.alerts.catalogue_links import cause_of
    from sge_recon.alerts.rules import evaluate_rules

    recon = recon_for(sge_url, redis_server.url, QUEUE_DEPTH_WARN=2, QUEUE_DEPTH_FAIL=3)
    acting_as(sge_url, root="admin")
    assert recon.checks.run(only=["queue_paused"], store=False).checks[0].status == "pass"
    assert recon.console.actions.pause_bullmq_queue("root", QUEUE).ok
    try:
        [paused] = recon.checks.run(only=["queue_paused"], store=False).checks
        assert (paused.status, paused.engine, paused.failing_rows) == ("warn", "bullmq", 1)
        assert paused.rows[0]["queue"] == QUEUE
        assert paused.rows[0]["waiting"] == recon.checks.queue_source().depth().depth
        facts = gather_facts(recon.db, recon.settings, datetime.now(timezone.utc))
        assert facts.queue_paused and facts.queue_paused_by is None  # BullMQ keeps no author
        assert {g.name: g.samples for g in core_gauges(facts)}["sge_queue_paused"] == \
            [((), Decimal(1))]
        findings = evaluate_rules(facts, recon.settings)
        causes = cause_of(findings, {d.name: d for d in recon.checks.catalogue()})
        backlog = next(f for f in findings if f.kind == "queue_depth")
        assert causes[(backlog.kind, backlog.key)].kind == "queue_paused"
    finally:
        assert recon.console.actions.resume_bullmq_queue("root", QUEUE).ok
    assert recon.checks.run(only=["queue_paused"], store=False).checks[0].status == "pass"


def test_redis_and_bullmq_are_imported_only_by_the_data_access_module():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"^\s*(import|from)\s+(redis|bullmq)\b", re.M)
    offenders = [p.relative_to(root).as_posix()
                 for p in [*root.glob("sge_recon/**/*.py"), *root.glob("app/**/*.py"),
                           *root.glob("jobs/**/*.py"), *root.glob("refplatform/**/*.py")]
                 if pattern.search(p.read_text(encoding="utf-8"))]
    # the data-access module, and the platform stand-in's demo traffic (the platform's side)
    assert sorted(offenders) == ["refplatform/sge_queues.py", "sge_recon/db/bullmq.py"]


def test_redis_down_is_an_error_sentence_and_nothing_else_changes(sge_url, world, redis_server):
    """Last in the module: the private Redis keeps no data across the restart."""
    recon = recon_for(sge_url, redis_server.url)
    redis_server.stop()
    try:
        run = recon.checks.run(trigger="test", store=False)
        facts = gather_facts(recon.db, recon.settings, datetime.now(timezone.utc))
        overview = recon.console.overview()
    finally:
        redis_server.restart()
    results = run.by_name()
    for name in ("queue_depth", "worker_status"):
        assert results[name].status == "error"
        assert "did not answer" in results[name].error and "REDIS_URL" in results[name].error
    assert run.status == "error" and run.exit_code() == 3
    assert results["ledger_balance"].status == "pass"
    assert results["commission_ledger"].status == "pass"
    assert "queue_depth" in facts.unavailable  # no alert, no series: unknown is not zero
    assert not {"sge_queue_depth_total", "sge_worker_status"} & {g.name for g in core_gauges(facts)}
    lights = {m.name: m.light.value for m in overview.metrics}
    assert lights["Queue depth"] == "grey" and lights["Worker status"] == "grey"


@pytest.mark.slow
def test_demo_profile_sge_runs_redis_bullmq_traffic_and_the_sge_api(new_database, tmp_path):
    """`sge-recon demo --profile sge`: a private redis-server, BullMQ traffic with workers, the
    SGE /api/v2 stand-in; the queue checks measure the live queues; everything stops."""
    import os
    import re
    import signal
    import time
    import urllib.request

    from sge_recon.db.bullmq import BullMQSource
    from sge_recon.db.queue_model import QueueUnavailable
    from sge_recon.db.relations import QueueDeclaration

    from .test_demo import free_port, wait_for

    ports = [free_port() for _ in range(3)]
    env = {**os.environ, "DATABASE_URL": new_database(empty=True),
           "SGE_RECON_HOME": str(tmp_path / "home")}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sge_recon", "demo", "--profile", "sge", "--intents", "300",
         "--api-port", str(ports[0]), "--console-port", str(ports[1]),
         "--metrics-port", str(ports[2]), "--traffic-rate", "5", "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        out = wait_for(proc, "Press Ctrl-C")
        redis_url = re.search(r"redis-server on (redis://\S+)", out).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/healthz", timeout=30) as r:
            assert r.status == 200
        source = BullMQSource(redis_url, QueueDeclaration(
            settlement_queue="intents", queues=("intents", "payouts", "reconciler")))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                snap = source.depth()
            except QueueUnavailable:  # the traffic has not made its queues yet
                time.sleep(0.5)
                continue
            if snap.settlement.completed >= 5 and snap.settlement_workers:
                break
            time.sleep(0.5)
        assert snap.settlement.completed >= 5 and snap.worker_state in ("healthy", "degraded")
        check = subprocess.run(
            [sys.executable, "-m", "sge_recon", "check", "--only", "queue_depth,worker_status",
             "--format", "json"], capture_output=True, text=True, timeout=120,
            env={**env, "DATABASE_URL": env["DATABASE_URL"], "PLATFORM_PROFILE": "sge",
                 "REDIS_URL": redis_url})
        checks = {c["name"]: c for c in json.loads(check.stdout)["checks"]}
        assert checks["worker_status"]["status"] in ("pass", "warn"), check.stdout
        assert checks["queue_depth"]["status"] == "pass"
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert "Stopped redis-server." in rest
    assert proc.returncode == 0


def test_a_retry_acts_on_the_job_exactly_as_listed_and_a_refusing_redis_is_no_outage(
        sge_url, redis_server):
    """Audit j #3/#4: BullMQ accepts custom ids with spaces, so 'job-y ' and 'job-y' are two
    jobs: the retry moves the one named (it stripped the id and moved the other, while the log
    named the first). A job id that names one of BullMQ's own keys ('id', 'events') makes Redis
    answer WRONGTYPE: a refusal of that id, not "Redis did not answer"."""
    w = BullMQWorld(redis_server.url)
    try:
        w.obliterate("reconciler")
        for job_id in ("job-y", "job-y "):
            w.add("reconciler", "fail", {"intentId": "int_y"}, jobId=job_id, attempts=1)
        w.start_worker("reconciler", name="failer")
        w.wait_for("reconciler", failed=2)
        w.close_workers()
        recon = recon_for(sge_url, redis_server.url)
        acting_as(sge_url, root="admin")
        actions = recon.console.actions
        done = actions.retry_bullmq_job("root", "reconciler", "job-y ")
        assert done.ok and done.logged, done.message
        states = w.call(w.queue("reconciler").getJobState("job-y")), \
            w.call(w.queue("reconciler").getJobState("job-y "))
        assert states == ("failed", "waiting")  # the named one moved, not its look-alike
        assert recon.console.recent_actions(1)[0]["target"] == "bullmq:reconciler:job-y "

        for key_name in ("id", "events"):
            refused = actions.retry_bullmq_job("root", "reconciler", key_name)
            assert not refused.ok and refused.logged, refused.message
            assert "did not answer" not in refused.message and "refused" in refused.message, \
                refused.message
    finally:
        w.obliterate("reconciler")
        w.close()


def test_confirming_a_waiting_correction_on_sge_is_a_recorded_not_possible(sge_url,
                                                                           redis_server):
    """Audit j #2: a correction request left waiting (e.g. made before the profile was switched
    to SGE, whose API has no correction endpoint) crashed on confirm with a TypeError (the SGE
    client lacked the Idempotency-Key parameter) and left no action_log row. It is now the
    recorded "not possible" every unsupported action gives, and the request is closed as failed
    (a definite answer: nothing was posted)."""
    from sge_recon.db import corrections as store

    recon = recon_for(sge_url, redis_server.url, SGE_ADMIN_API_URL="http://127.0.0.1:9")
    acting_as(sge_url, root="admin", corr="admin")
    db = Database(sge_url)
    program = db.fetch_one('SELECT id FROM public."Program" ORDER BY id LIMIT 1')["id"]
    with db.transaction() as conn:
        row = store.insert_request(conn, program_id=program, transaction_id=None, reason="r",
                                   entries=[{"account": "system:suspense", "type": "debit",
                                             "amount": "5.00", "currency": "USD"},
                                            {"account": "system:fees", "type": "credit",
                                             "amount": "5.00", "currency": "USD"}],
                                   requested_by="root")
    outcome = recon.console.corrections.confirm("corr", row["id"])
    assert not outcome.ok and outcome.logged and "not possible" in outcome.message, outcome
    assert recon.console.recent_actions(1)[0]["action"] == "ledger_correction"
    assert db.fetch_one("SELECT status FROM recon.correction_requests WHERE id = %s",
                        (row["id"],))["status"] == "failed"
