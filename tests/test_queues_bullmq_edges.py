"""BullMQ on Redis (the SGE profile's queues) at its edges, found by the queues audit: what
REDIS_URL and the Redis behind it may hold that the happy path never meets. Real redis-server
(conftest ``redis_server``), jobs made by BullMQ's own package (tests/redis_support.py)."""

from __future__ import annotations

import pytest
import redis

from .redis_support import BullMQWorld
from .test_queues_bullmq import recon_for, sge_url  # noqa: F401 - sge_url is a fixture


@pytest.mark.parametrize("option, named", [("socket_timeout=abc", "'socket_timeout'"),
                                           ("db=x", "'db'"),
                                           ("ssl_cert_reqs=none", "'ssl_cert_reqs'")])
def test_a_redis_url_option_redis_cannot_use_errors_the_queue_checks_only(
        sge_url, redis_server, option, named):
    """Audit queues #2: REDIS_URL passes the settings' checks with any query option, and one
    redis-py cannot use (a typo'd value, an ssl_ option on redis://) raised ValueError/TypeError
    out of the queue source: the whole check run died with a traceback, the ledger checks and
    their alerts with it. Now the three queue checks are `error` with a sentence naming the
    option, and every other check runs."""
    url = redis_server.url.replace("redis://", "redis://:S3cretPw@") + "?" + option
    run = recon_for(sge_url, url).checks.run(trigger="test", store=False)
    results = run.by_name()
    for name in ("queue_depth", "queue_paused", "worker_status"):
        assert results[name].status == "error", results[name]
        assert "REDIS_URL" in results[name].error and named in results[name].error
        assert "S3cretPw" not in results[name].error
    assert results["ledger_balance"].status == "pass"
    assert run.exit_code() == 3


def test_a_job_hash_bullmq_did_not_write_errors_the_queue_checks_only(sge_url, redis_server):
    """Audit queues #2b: a job whose hash holds a field BullMQ cannot parse (data that is not
    JSON, a timestamp that is not a number: a job made or edited by another tool) raised
    JSONDecodeError/ValueError out of BullMQ and killed the whole check run. Now the queue
    checks say why, the rest runs, and the Queue page's retry refuses it in words."""
    world = BullMQWorld(redis_server.url)
    raw = redis.Redis.from_url(redis_server.url)
    try:
        world.obliterate("intents")
        world.add("intents", "settle", {"intentId": "int_bad"}, jobId="job-bad")
        raw.hset("bull:intents:job-bad", "data", "{not json")
        recon = recon_for(sge_url, redis_server.url)
        run = recon.checks.run(trigger="test", store=False)
        results = run.by_name()
        for name in ("queue_depth", "worker_status"):
            assert results[name].status == "error"
            assert "BullMQ could not read a job" in results[name].error
        assert results["ledger_balance"].status == "pass"
        raw.hset("bull:intents:job-bad", "data", "{}")
        raw.hset("bull:intents:job-bad", "timestamp", "yesterday")
        run = recon.checks.run(only=["queue_depth"], store=False)
        assert run.checks[0].status == "error" and "yesterday" in run.checks[0].error
        source = recon.checks.queue_source()
        with pytest.raises(Exception) as caught:
            source.retry("intents", "job-bad")
        assert type(caught.value).__name__ == "QueueUnavailable"
    finally:
        world.obliterate("intents")
        raw.close()
        world.close()


def test_a_busy_healthy_queue_has_no_stalled_job_and_a_dead_workers_job_is_one(redis_server):
    """Audit queues #3: the stalled-job test read the active list, then the jobs' locks in a
    second round trip; a job that finished in between (lock and active entry removed together
    by BullMQ) counted as stalled, so a busy, healthy settlement queue read as `degraded` in
    about 4 reads out of 10. Lock and active-list membership are now read in one MULTI."""
    import time

    from sge_recon.db.bullmq import BullMQSource
    from sge_recon.db.relations import QueueDeclaration

    world = BullMQWorld(redis_server.url)
    try:
        world.obliterate("reconciler")

        async def add_many():
            await world.queue("reconciler").addBulk(
                [{"name": "quick", "data": {"i": i}, "opts": {"removeOnComplete": True}}
                 for i in range(6000)])
        world.call(add_many(), timeout=120)
        world.start_worker("reconciler", name="fast", concurrency=20)
        source = BullMQSource(redis_server.url, QueueDeclaration(
            settlement_queue="reconciler", queues=("reconciler",)))
        reads, stalled, deadline = 0, [], time.monotonic() + 20
        while reads < 150 and time.monotonic() < deadline:
            snap = source.depth()
            if snap.settlement.active:
                reads += 1
                stalled += [j.id for j in snap.stalled]
        assert reads >= 30, "the worker drained the queue before it could be read busy"
        assert stalled == [], f"{len(stalled)} finished job(s) reported stalled in {reads} reads"
        world.close_workers()
        world.obliterate("reconciler")
        world.add("reconciler", "settle", {"intentId": "int_dead"}, jobId="job-dead")
        dead = world.stall_one("reconciler")
        snap = source.depth()
        assert [j.id for j in snap.stalled] == [dead] == ["job-dead"]
    finally:
        world.obliterate("reconciler")
        world.close()


def test_the_documented_redis_acl_reads_and_acts_and_a_missing_permission_is_named(
        redis_server):
    """Audit queues #4: the ACL docs/profiles.md gave (`+@read +@write +evalsha +client|list
    ~bull:*`) refused everything: the connection's CLIENT SETNAME, SCRIPT LOAD of BullMQ's
    scripts, INFO before a retry; and the refusal read "a job id that names one of BullMQ's own
    keys". The documented ACL now works (applied here to a real Redis), read-only reads, and a
    missing permission names the ACL to give."""
    import re
    from pathlib import Path

    from sge_recon.db.bullmq import ACL_ACTIONS, ACL_READ, BullMQSource
    from sge_recon.db.queue_model import QueueUnavailable
    from sge_recon.db.relations import QueueDeclaration

    docs = " ".join((Path(__file__).resolve().parent.parent / "docs" / "profiles.md")
                    .read_text().split())
    documented = re.search(r"For example `ACL SETUSER recon on >… (~bull:\*[^`]*)`", docs)
    assert documented, "docs/profiles.md gives no example ACL"
    rules = documented.group(1).split()
    assert rules == ["~bull:*", *ACL_READ.split(), *ACL_ACTIONS.split()]
    admin = redis.Redis.from_url(redis_server.url)
    world = BullMQWorld(redis_server.url)
    try:
        admin.execute_command("ACL", "SETUSER", "recon-docs", "reset", "on", ">pw-docs", *rules)
        admin.execute_command("ACL", "SETUSER", "recon-read", "reset", "on", ">pw-read",
                              "~bull:*", *ACL_READ.split())
        world.obliterate("reconciler")
        world.add("reconciler", "fail", {"intentId": "int_acl"}, jobId="job-acl", attempts=1)
        world.start_worker("reconciler", name="acl")
        world.wait_for("reconciler", failed=1)
        world.add("reconciler", "slow", {"intentId": "int_slow"}, jobId="job-acl-slow")
        world.wait_for("reconciler", active=1)
        decl = QueueDeclaration(settlement_queue="reconciler", queues=("reconciler",))
        host = redis_server.url.split("://", 1)[1]
        admin.script_flush()  # Redis holds none of BullMQ's scripts yet: they are loaded
        reader = BullMQSource(f"redis://recon-read:pw-read@{host}", decl)
        snap = reader.depth()
        assert snap.settlement.failed == 1 and snap.settlement_workers and not snap.stalled
        assert [j.id for j in reader.jobs("reconciler", "failed")] == ["job-acl"]
        with pytest.raises(QueueUnavailable) as refused:
            reader.pause("reconciler")
        assert "REDIS_URL's user may not do it" in refused.value.message
        assert f"`{ACL_ACTIONS}` to pause" in refused.value.message
        assert "job id" not in refused.value.message
        admin.script_flush()
        actor = BullMQSource(f"redis://recon-docs:pw-docs@{host}", decl)
        assert "paused" in actor.pause("reconciler")
        assert "resumed" in actor.resume("reconciler")
        world.close_workers()
        assert "moved from failed back to waiting" in actor.retry("reconciler", "job-acl")
        wrong = BullMQSource(f"redis://recon-docs:not-it@{host}", decl)
        with pytest.raises(QueueUnavailable) as denied:
            wrong.depth()
        assert "refused the user or password in REDIS_URL" in denied.value.message
        assert "not-it" not in denied.value.message
    finally:
        admin.execute_command("ACL", "DELUSER", "recon-docs", "recon-read")
        admin.close()
        world.obliterate("reconciler")
        world.close()


def test_retries_whose_backoff_is_over_count_in_the_depth_while_the_workers_are_down(
        sge_url, redis_server):
    """Audit queues #6: SGE's jobs retry with backoff (attempts 8, exponential), i.e. through
    BullMQ's delayed set, and BullMQ moves a due delayed job to waiting only when a worker
    fetches. With the workers dead, 60 intents whose backoff was over sat in `delayed` and
    queue_depth read 0 (no backlog alert, sge_queue_depth_total 0). Due delayed jobs now count
    in the depth; one not yet due does not."""
    import time
    from datetime import datetime, timezone

    world = BullMQWorld(redis_server.url)
    try:
        world.obliterate("intents")
        for i in range(60):
            world.add("intents", "fail", {"intentId": f"int_b{i}"}, jobId=f"job-b{i}",
                      attempts=8, backoff={"type": "exponential", "delay": 300})
        world.start_worker("intents", name="dies", concurrency=20)
        world.wait_for("intents", timeout=30, delayed=60)  # each failed once: backing off
        world.close_workers()  # the workers die
        world.add("intents", "settle", {"intentId": "int_later"}, jobId="job-later",
                  delay=3_600_000)
        time.sleep(1.5)  # every backoff is over
        recon = recon_for(sge_url, redis_server.url, QUEUE_DEPTH_WARN=30, QUEUE_DEPTH_FAIL=50)
        [depth] = recon.checks.run(only=["queue_depth"], store=False).checks
        assert (depth.status, depth.value) == ("fail", 60), (depth.status, depth.value)
        assert depth.details["delayed"] == 61 and depth.details["delayed_due"] == 60
        snap = recon.checks.queue_source().depth()
        waited = snap.oldest_waiting_seconds(datetime.now(timezone.utc))
        assert waited is not None and 0.5 < waited < 30
    finally:
        world.obliterate("intents")
        world.close()


class ReplyEater:
    """A TCP proxy in front of a real Redis that forwards every request, and stops forwarding
    Redis's replies once a request carrying ``marker`` went through: Redis runs it, its answer
    is lost (a slow or broken network). ``everywhere``: the replies of every later connection
    are lost too (Redis gone quiet), else only those of the connection that sent it."""

    def __init__(self, redis_port: int, marker: bytes, everywhere: bool = False):
        import socket
        import threading

        self.redis_port, self.marker, self.everywhere = redis_port, marker, everywhere
        self.quiet = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.redis_port))
            self.sockets += [client, upstream]
            state = {"quiet": False}
            threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, state),
                             daemon=True).start()

    def _up(self, client, upstream, state) -> None:
        try:
            while data := client.recv(65536):
                if self.marker in data:  # quiet before Redis can answer it
                    state["quiet"] = True
                    self.quiet = self.quiet or self.everywhere
                upstream.sendall(data)
        except OSError:
            pass

    def _down(self, upstream, client, state) -> None:
        try:
            while data := upstream.recv(65536):
                if not (state["quiet"] or self.quiet):
                    client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


def test_an_action_whose_answer_is_lost_is_recorded_as_what_redis_holds(sge_url, redis_server):
    """Audit queues #7: a pause (or retry) that reached Redis but whose answer was lost (a slow
    network, REDIS_TIMEOUT_SECONDS) was recorded as failed, "the queues could not be read", while
    the queue was paused (the job moved); and a retry's lost answer read as "someone retried it
    at the same moment; nothing changed". The state is now read again: done when it says so;
    when Redis stays silent, the action-log row stays "sent, outcome unknown"."""
    from .test_console_actions import acting_as

    world = BullMQWorld(redis_server.url)
    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    proxies: list[ReplyEater] = []
    try:
        world.obliterate("reconciler")
        world.add("reconciler", "fail", {"intentId": "int_late"}, jobId="job-late", attempts=1)
        world.start_worker("reconciler", name="late")
        world.wait_for("reconciler", failed=1)
        world.close_workers()
        scripts = world.queue("reconciler").backend.scripts.commands
        loader = redis.Redis.from_url(redis_server.url)
        for name in ("pause", "reprocessJob"):  # Redis holds them: EVALSHA runs at once
            assert loader.script_load(scripts[name].script) == scripts[name].sha
        loader.close()
        recon_for(sge_url)  # the recon schema
        acting_as(sge_url, root="admin")

        def actions_through(marker: bytes, everywhere: bool = False):
            proxy = ReplyEater(port, marker, everywhere)
            proxies.append(proxy)
            recon = recon_for(sge_url, f"redis://127.0.0.1:{proxy.port}/0",
                              REDIS_TIMEOUT_SECONDS="1")
            return recon, recon.console.actions

        recon, actions = actions_through(scripts["pause"].sha.encode())
        paused = actions.pause_bullmq_queue("root", "reconciler")
        assert world.call(world.queue("reconciler").isPaused()) is True
        assert paused.ok and "paused in BullMQ now" in paused.message, paused.message
        assert recon.console.recent_actions(1)[0]["result"] == "ok"

        recon, actions = actions_through(scripts["reprocessJob"].sha.encode())
        retried = actions.retry_bullmq_job("root", "reconciler", "job-late")
        assert world.call(world.queue("reconciler").getJobState("job-late")) == "waiting"
        assert retried.ok and "is waiting now, no longer failed" in retried.message, \
            retried.message

        recon, actions = actions_through(scripts["pause"].sha.encode(), everywhere=True)
        resumed = actions.resume_bullmq_queue("root", "reconciler")
        assert world.call(world.queue("reconciler").isPaused()) is False
        assert not resumed.ok and resumed.maybe_done and resumed.logged, resumed
        assert "it may have been done" in resumed.message
        row = recon.console.recent_actions(1)[0]
        assert (row["action"], row["result"]) == ("resume_queue",
                                                  "sent, outcome unknown — check the platform")
    finally:
        for proxy in proxies:
            proxy.close()
        world.obliterate("reconciler")
        world.close()


def test_a_worker_in_another_database_of_the_same_redis_is_not_this_platforms(redis_server):
    """Audit queues #8: workers were found by CLIENT LIST, which lists the whole server's
    connections: a staging worker on /3 of the same Redis made production's settlement queue
    on /2 read `healthy` with no worker of its own (worker_down never fires). Only connections
    to REDIS_URL's database count now."""
    from sge_recon.db.bullmq import BullMQSource
    from sge_recon.db.relations import QueueDeclaration

    base = redis_server.url.rsplit("/", 1)[0]
    staging = BullMQWorld(f"{base}/3")
    production_queue = BullMQWorld(f"{base}/2")
    try:
        production_queue.obliterate("reconciler")
        production_queue.add("reconciler", "reconcile", {}, jobId="job-prod", delay=3_600_000)
        staging.obliterate("reconciler")
        staging.add("reconciler", "reconcile", {}, jobId="job-staging", delay=3_600_000)
        staging.start_worker("reconciler", name="staging-settler")
        decl = QueueDeclaration(settlement_queue="reconciler", queues=("reconciler",))
        production = BullMQSource(f"{base}/2", decl).depth()
        assert (production.worker_state, production.workers) == ("down", [])
        at_staging = BullMQSource(f"{base}/3", decl).depth()
        assert at_staging.worker_state == "healthy"
        assert {w.name for w in at_staging.settlement_workers} == \
            {"bull:reconciler:w:staging-settler"}
    finally:
        staging.obliterate("reconciler")
        staging.close()
        production_queue.obliterate("reconciler")
        production_queue.close()


def test_a_job_retried_on_a_paused_queue_says_no_worker_takes_it_yet(sge_url, redis_server):
    """Audit queues #9: retrying a failed job of a paused queue answered "a worker will take
    it", recorded as such; no worker takes anything from a paused queue until it is resumed."""
    from .test_console_actions import acting_as

    world = BullMQWorld(redis_server.url)
    try:
        world.obliterate("reconciler")
        world.add("reconciler", "fail", {"intentId": "int_p"}, jobId="job-paused", attempts=1)
        world.start_worker("reconciler", name="pauser")
        world.wait_for("reconciler", failed=1)
        world.close_workers()
        recon = recon_for(sge_url, redis_server.url)
        acting_as(sge_url, root="admin")
        actions = recon.console.actions
        assert actions.pause_bullmq_queue("root", "reconciler").ok
        retried = actions.retry_bullmq_job("root", "reconciler", "job-paused")
        assert retried.ok and "a worker will take it" not in retried.message
        assert "the queue is paused, so no worker takes it until the queue is resumed" in \
            retried.message
        assert actions.resume_bullmq_queue("root", "reconciler").ok
    finally:
        world.obliterate("reconciler")
        world.close()


def test_a_retry_backing_off_runs_when_bullmq_will_run_it_not_at_creation_plus_delay(
        redis_server):
    """Audit queues #10: the Queue page's delayed jobs showed "runs at" as the job's creation
    time + its delay, which for a retry backing off (SGE's delayed jobs: attempts 8, backoff) is
    creation + the last backoff: a time before the attempt that failed, so every retry looked
    overdue. It is now the job's due time in BullMQ's delayed set."""
    import time
    from datetime import timedelta

    from sge_recon.db.bullmq import BullMQSource
    from sge_recon.db.relations import QueueDeclaration

    world = BullMQWorld(redis_server.url)
    try:
        world.obliterate("reconciler")
        world.add("reconciler", "fail", {"intentId": "int_bo"}, jobId="job-backoff",
                  attempts=3, backoff={"type": "fixed", "delay": 60_000})
        time.sleep(1.5)  # the attempt starts well after the job was made
        world.start_worker("reconciler", name="backoff")
        world.wait_for("reconciler", delayed=1)
        world.close_workers()
        source = BullMQSource(redis_server.url, QueueDeclaration(
            settlement_queue="reconciler", queues=("reconciler",)))
        [job] = source.jobs("reconciler", "delayed")
        assert job.attempts_made == 1 and job.processed_at is not None
        assert job.run_at >= job.processed_at + timedelta(seconds=60), (job.run_at,
                                                                         job.processed_at)
        assert job.run_at < job.processed_at + timedelta(seconds=65)
    finally:
        world.obliterate("reconciler")
        world.close()


def test_a_redis_database_without_the_platforms_queues_is_an_error_not_an_empty_queue(
        sge_url, redis_server):
    """Audit queues #11: REDIS_URL naming another database than the platform's (/5 for /4),
    or a profile prefix that is not the platform's, read as an empty, unpaused queue: 700
    waiting jobs of a paused queue showed as depth 0 and queue_paused passed. When none of
    the declared queues exists there (BullMQ writes <prefix>:<queue>:meta when a queue is made
    or gets a job), the queue checks are `error` and say what to check."""
    base = redis_server.url.rsplit("/", 1)[0]
    platform = BullMQWorld(f"{base}/4")
    try:
        platform.obliterate("intents")

        async def backlog():
            await platform.queue("intents").addBulk(
                [{"name": "settle", "data": {"i": i}} for i in range(700)])
        platform.call(backlog())
        platform.call(platform.queue("intents").pause())
        right = recon_for(sge_url, f"{base}/4").checks.run(
            only=["queue_depth", "queue_paused"], store=False).by_name()
        assert right["queue_depth"].value == 700 and right["queue_paused"].status == "warn"
        for url, profile in ((f"{base}/5", "sge"), (f"{base}/4", None)):
            overrides = {}
            if profile is None:  # the right database, a prefix that is not the platform's
                from pathlib import Path

                path = Path(redis_server.directory) / "other-prefix.yml"
                path.write_text((Path(__file__).resolve().parent.parent / "profiles" / "sge.yml")
                                .read_text().replace("prefix: bull", "prefix: sge"))
                overrides["PLATFORM_PROFILE"] = str(path)
            results = recon_for(sge_url, url, **overrides).checks.run(
                only=["queue_depth", "queue_paused"], store=False).by_name()
            for name in ("queue_depth", "queue_paused"):
                assert results[name].status == "error", (url, results[name])
                assert "none of the platform's BullMQ queues" in results[name].error
    finally:
        platform.call(platform.queue("intents").resume())
        platform.obliterate("intents")
        platform.close()
