"""Alerting: every runbook rule against a real local HTTP receiver, through the real scheduler.

Each rule: plant the fault → one message per channel when the incident opens → nothing more while
it stays open within the reminder interval → one reminder after it → one resolution (with its
duration) once the fault is fixed. Time moves with a ManualClock; the data, the checks, the
database and the HTTP deliveries are real.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sge_recon.context import Recon
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .http_receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver(default_status=lambda path: 204 if path.startswith("/discord") else 200)
    yield r
    r.close()


SLACK, DISCORD = "/slack/T000/B000/secret-token", "/discord/api/webhooks/1/secret-token"


def alerting_recon(db_url: str, receiver: Receiver, live_worker: bool = True,
                   **overrides) -> Recon:
    """sge-recon alerting to the receiver. ``live_worker``: a settlement worker reports a
    heartbeat (live for the whole test), so the rule under test is the only outage; without any
    heartbeat the workers count as down since the first failed worker_status check, and
    worker_down pages after WORKER_DOWN_ALERT_MINUTES
    (test_workers_that_never_sent_a_heartbeat_page_after_the_alert_delay)."""
    if live_worker:
        from sge_recon.db import Database

        Database(db_url).execute("INSERT INTO public.worker_heartbeats (worker_id, last_seen_at) "
                                 "VALUES ('test-live-worker', now()) "
                                 "ON CONFLICT DO NOTHING")
        overrides.setdefault("WORKER_DOWN_SECONDS", 86400)
    return Recon(settings_for(db_url, SLACK_WEBHOOK_URL=receiver.base + SLACK,
                              DISCORD_WEBHOOK_URL=receiver.base + DISCORD,
                              CONSOLE_URL="https://console.example.test", **overrides))


def monitor_only(recon: Recon, clock: ManualClock) -> Scheduler:
    return Scheduler(recon.job_services, [j for j in default_jobs() if j.name == "monitor"], clock)


def start_clock() -> ManualClock:
    return ManualClock(datetime.now(timezone.utc).replace(second=5, microsecond=0))


# -- planted faults: (plant, fix) per rule --------------------------------------------------------
def plant_ledger_imbalance(factory, db, clock):
    p = factory.program(id="prog_ledger")
    factory.journal(p["id"], [("treasury", "debit", "100.00"), ("user:u1", "credit", "99.75")])

    def fix():
        factory.journal(p["id"], [("user:u1", "credit", "0.25")])  # the correcting entry
    return fix


def plant_worker_down(factory, db, clock):
    factory.heartbeat("worker-1", last_seen_at=clock.now() - timedelta(minutes=3))
    factory.job(intent_id=None)
    clock.advance(minutes=3)  # down for 6 minutes now: past WORKER_DOWN_ALERT_MINUTES (5)

    def fix():
        db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    return fix


def plant_queue_depth(factory, db, clock):
    db.execute("INSERT INTO public.jobs (queue, status) "
               "SELECT 'settlement', 'waiting' FROM generate_series(1, 501)")

    def fix():
        db.execute("UPDATE public.jobs SET status = 'completed' WHERE id IN "
                   "(SELECT id FROM public.jobs ORDER BY id LIMIT 100)")
    return fix


def plant_stuck_intent(factory, db, clock):
    p = factory.program()
    u = factory.user(p["id"])
    i = factory.intent(p["id"], u["id"], status="processing", amount=Decimal("250.00"),
                       status_changed_at=clock.now() - timedelta(minutes=20))

    def fix():
        db.execute("UPDATE public.settlement_intents SET status = 'completed', completed_at = %s "
                   "WHERE id = %s", (clock.now(), i["id"]))
    return fix


def plant_webhook_exhausted(factory, db, clock):
    p = factory.program()
    e = factory.endpoint(p["id"])
    d = factory.delivery(e["id"], status="failed", attempt_count=5, last_error="HTTP 503",
                         last_attempt_at=clock.now() - timedelta(hours=2))

    def fix():  # retried by an operator and delivered
        db.execute("UPDATE public.webhook_deliveries SET status = 'delivered', "
                   "attempt_count = 6, last_attempt_at = %s WHERE id = %s", (clock.now(), d["id"]))
    return fix


def plant_endpoint_failing(factory, db, clock):
    p = factory.program()
    e = factory.endpoint(p["id"])
    for n in range(3):  # 3 deliveries x 4 failed attempts = 12 consecutive failures (> 10)
        factory.delivery(e["id"], status="retry_scheduled", attempt_count=4, last_error="timeout",
                         last_attempt_at=clock.now() - timedelta(minutes=30 - n))

    def fix():  # the endpoint answers again: a delivery succeeds after the failures
        factory.delivery(e["id"], status="delivered", attempt_count=1,
                         last_attempt_at=clock.now())
    return fix


RULES = [
    ("ledger_imbalance", "P0", plant_ledger_imbalance, "0.25 USD"),
    ("worker_down", "P1", plant_worker_down, None),
    ("queue_depth", "P2", plant_queue_depth, None),
    ("stuck_intents", "P1", plant_stuck_intent, "250.00 USD"),  # checks.yml: P1
    ("webhook_exhausted", "P3", plant_webhook_exhausted, None),
    ("webhook_endpoint_failing", "P3", plant_endpoint_failing, None),
]


@pytest.mark.parametrize("kind,priority,plant,money", RULES, ids=[r[0] for r in RULES])
def test_rule_lifecycle_open_remind_resolve(db_url, db, factory, receiver, kind, priority, plant,
                                            money):
    recon = alerting_recon(db_url, receiver, live_worker=kind != "worker_down")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant(factory, db, clock)

    # opens: one message per channel
    assert sched.tick()[0].status == "succeeded"
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"], incident["status"]) == (kind, priority, "open")
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 1
    assert f"{priority} incident #{incident['id']}" in slack[0]["text"]
    # the headline's brackets escaped (Discord shows "[unnamed]"; a masked link cannot form)
    assert discord[0]["content"].startswith(f"\\[unnamed\\] {priority} incident #")
    assert discord[0]["content"].count(priority) == 1  # the priority is said once
    if money:
        assert money in json.dumps(slack[0]) and money in json.dumps(discord[0])

    # stays open: no repeat every minute, nor within the 4 h interval
    for minutes in (1, 2, 239):
        clock.set(_at(incident, minutes))
        assert sched.tick()[0].status == "succeeded"
    assert len(receiver.delivered(SLACK)) == len(receiver.delivered(DISCORD)) == 1

    # a reminder once the interval has passed, and only one
    clock.set(_at(incident, 241))
    sched.tick()
    clock.set(_at(incident, 242))
    sched.tick()
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 2
    assert slack[1]["text"].startswith(f"Reminder: [unnamed] {priority} incident "
                                       f"#{incident['id']}")
    assert "still open after 4 h" in slack[1]["text"]

    # fixed: resolved once, with its duration; then silence
    clock.set(_at(incident, 300))
    fix()
    sched.tick()
    clock.set(_at(incident, 301))
    sched.tick()
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 3
    assert slack[2]["text"].startswith(f"Resolved: [unnamed] {priority} incident "
                                       f"#{incident['id']} after 5 h 0 min")
    assert discord[2]["embeds"][0]["color"] == 0x388E3C
    [resolved] = recon.incidents.incidents()
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] - resolved["opened_at"] == timedelta(minutes=300)
    runs = recon.db.fetch_all("SELECT status FROM recon.job_runs WHERE job = 'monitor'")
    assert {r["status"] for r in runs} == {"succeeded"} and len(runs) == 8


def _at(incident: dict, minutes: int) -> datetime:
    return incident["opened_at"] + timedelta(minutes=minutes)


def test_slack_and_discord_payload_shapes(db_url, factory, db, receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    plant_ledger_imbalance(factory, db, clock)
    monitor_only(recon, clock).tick()
    [slack] = receiver.delivered(SLACK)
    [discord] = receiver.delivered(DISCORD)

    assert set(slack) == {"text", "blocks"}
    assert "Ledger of program prog_ledger (USD) is off by 0.25 USD" in slack["text"]
    types = [b["type"] for b in slack["blocks"]]
    assert types == ["section", "section", "section", "context"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in slack["blocks"][1]["fields"]}
    assert fields["*Environment*"] == "unnamed" and fields["*Money at stake*"] == "0.25 USD"
    assert fields["*Where*"] == "program prog_ledger, USD ledger"
    assert "First steps" in slack["blocks"][2]["text"]["text"]
    # the first steps are the runbook's, from the check catalogue (checks/checks.yml)
    assert "1. Run transaction_balance" in slack["blocks"][2]["text"]["text"]
    incident_id = recon.incidents.incidents()[0]["id"]
    link = f"https://console.example.test/incidents?id={incident_id}"
    assert f"<{link}|" in slack["blocks"][3]["elements"][0]["text"]

    assert set(discord) == {"content", "embeds", "allowed_mentions"}
    assert discord["allowed_mentions"] == {"parse": []}  # platform text never pings
    [embed] = discord["embeds"]
    # no "[P0]" prefix repeating the priority; the same headline, in each one's escaping
    assert discord["content"] == slack["text"].replace("[", "\\[").replace("]", "\\]")
    assert embed["title"].startswith("\\[unnamed\\] P0 incident #") and embed["color"] == 0xD32F2F
    assert embed["url"] == link
    assert {f["name"]: f["value"] for f in embed["fields"]}["Money at stake"] == "0.25 USD"
    assert "1. Run transaction_balance" in embed["description"]
    assert datetime.fromisoformat(embed["timestamp"]) == clock.now()
    assert len(discord["content"]) <= 2000 and len(embed["title"]) <= 256


def test_channel_returning_500_is_retried_and_delivered_once(db_url, factory, db, receiver,
                                                             caplog):
    caplog.set_level(logging.DEBUG)
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_ledger_imbalance(factory, db, clock)
    receiver.fail_next[SLACK] = 2

    assert sched.tick()[0].status == "succeeded"  # a dead channel does not fail the job
    assert receiver.delivered(SLACK) == [] and len(receiver.delivered(DISCORD)) == 1
    [pending] = [d for d in recon.incidents.deliveries() if d["channel"] == "slack"]
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    assert pending["last_error"].startswith("HTTP 500")

    clock.advance(minutes=1)
    sched.tick()                                   # retried after 60 s: 500 again
    assert receiver.delivered(SLACK) == []
    clock.advance(minutes=1)
    sched.tick()                                   # back-off: 120 s since the 2nd attempt
    assert receiver.delivered(SLACK) == []
    clock.advance(minutes=1)
    sched.tick()                                   # the channel is back
    assert len(receiver.delivered(SLACK)) == 1
    clock.advance(minutes=5)
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1 and len(receiver.delivered(DISCORD)) == 1
    [sent] = [d for d in recon.incidents.deliveries() if d["channel"] == "slack"]
    assert (sent["status"], sent["attempts"]) == ("sent", 3)
    assert len([p for p in receiver.posts if p["path"] == SLACK]) == 3
    assert "secret-token" not in caplog.text


def test_refused_channel_keeps_alerts_pending_without_leaking_the_url(db_url, factory, db,
                                                                      receiver, caplog):
    caplog.set_level(logging.DEBUG)
    dead = "http://127.0.0.1:9/hooks/secret-token-xyz"  # port 9 (discard): connection refused
    recon = Recon(settings_for(db_url, SLACK_WEBHOOK_URL=dead,
                               DISCORD_WEBHOOK_URL=receiver.base + DISCORD))
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_stuck_intent(factory, db, clock)
    assert sched.tick()[0].status == "succeeded"
    assert len(receiver.delivered(DISCORD)) == 1
    [slack] = [d for d in recon.incidents.deliveries() if d["channel"] == "slack"]
    assert slack["status"] == "pending" and slack["last_error"]
    stored = json.dumps([dict(r) for r in recon.db.fetch_all(
        "SELECT last_error FROM recon.alert_deliveries UNION ALL "
        "SELECT coalesce(error, '') FROM recon.job_runs")])
    assert "secret-token" not in stored and "secret-token" not in caplog.text


def test_acknowledged_incident_gets_no_reminder_but_is_resolved(db_url, factory, db, receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    fix = plant_stuck_intent(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert recon.incidents.acknowledge(incident["id"], "alice", clock.now())["status"] == \
        "acknowledged"
    clock.set(_at(incident, 5 * 60))
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1
    fix()
    clock.advance(minutes=1)
    sched.tick()
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith("Resolved:")


def test_reminder_interval_is_configurable(db_url, factory, db, receiver):
    recon = alerting_recon(db_url, receiver, ALERT_REMINDER_HOURS="0.5")
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_webhook_exhausted(factory, db, clock)
    sched.tick()
    [incident] = recon.incidents.incidents()
    clock.set(_at(incident, 29))
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1
    clock.set(_at(incident, 31))
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2


def test_worker_down_measured_from_last_heartbeat(db_url, factory, db, receiver):
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("w1", last_seen_at=clock.now() - timedelta(seconds=90))
    sched.tick()                       # down (no heartbeat for 90 s) but not for 5 min yet
    assert recon.incidents.incidents() == []
    clock.advance(minutes=3)
    sched.tick()                       # 4.5 min
    assert recon.incidents.incidents() == []
    clock.advance(minutes=1)
    sched.tick()                       # 5.5 min
    [incident] = recon.incidents.incidents()
    assert incident["kind"] == "worker_down" and incident["details"]["down_seconds"] == "330"


def test_two_schedulers_open_one_incident_and_send_one_message(db_url, factory, db, receiver):
    clock = start_clock()
    a = monitor_only(alerting_recon(db_url, receiver), clock)
    b = monitor_only(alerting_recon(db_url, receiver), clock)
    plant_ledger_imbalance(factory, db, clock)
    for _ in range(3):
        threads = [threading.Thread(target=s.tick) for s in (a, b)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        clock.advance(minutes=1)
    assert len(receiver.delivered(SLACK)) == len(receiver.delivered(DISCORD)) == 1
    assert len(a.services.incidents.incidents()) == 1


def test_incidents_agree_with_the_real_checks_on_the_same_planted_faults(db_url, factory, db,
                                                                        receiver):
    """The rules read live facts; the checks engine reads its own SQL. On the same data they must
    tell the same story: every failing alert-backing check has its incident, and vice versa."""
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    for plant in (plant_ledger_imbalance, plant_stuck_intent, plant_webhook_exhausted,
                  plant_endpoint_failing, plant_queue_depth):
        plant(factory, db, clock)
    monitor_only(recon, clock).tick()
    results = recon.checks.run(only=["webhook_endpoints_failing"], trigger="cli")
    latest = {**recon.checks.latest_results(), **{r.name: r for r in results.checks}}
    kinds = {i["kind"]: i for i in recon.incidents.incidents()}
    assert set(kinds) == {"ledger_imbalance", "stuck_intents", "webhook_exhausted",
                          "webhook_endpoint_failing", "queue_depth"}
    assert latest["ledger_balance"].status == "fail"
    assert latest["stuck_intents"].status == "fail"
    assert latest["webhook_exhausted"].status == "fail"
    assert latest["webhook_endpoints_failing"].status == "warn"
    assert latest["queue_depth"].status == "fail"
    assert latest["worker_status"].status == "fail" and "worker_down" not in kinds  # never seen
    for kind, check in (("ledger_imbalance", "ledger_balance"), ("stuck_intents", "stuck_intents")):
        assert kinds[kind]["priority"] == latest[check].priority
    # the backlog (P2) is the cause of the stuck intents (P1, its muted child): it pages for them,
    # at their priority
    assert latest["queue_depth"].priority == "P2" and kinds["queue_depth"]["priority"] == "P1"
    assert kinds["queue_depth"]["details"]["escalated_by"] == {"kind": "stuck_intents",
                                                               "priority": "P1"}
    assert kinds["ledger_imbalance"]["money_at_stake"] == Decimal("0.25")
    assert Decimal(latest["ledger_balance"].rows[0]["difference"]).copy_abs() == Decimal("0.25")


def test_a_broken_catalogue_never_silences_alerts(db_url, factory, db, receiver, tmp_path):
    (tmp_path / "checks.yml").write_text("this: [is not a catalogue")
    recon = alerting_recon(db_url, receiver, CHECKS_DIR=str(tmp_path))
    clock = start_clock()
    plant_ledger_imbalance(factory, db, clock)
    [outcome] = monitor_only(recon, clock).tick()
    assert outcome.status == "failed" and "fast checks" in outcome.error  # recorded, visible
    [slack] = receiver.delivered(SLACK)
    assert slack["text"].startswith("[unnamed] P0 incident #")
    assert "Pause the settlement queue" in json.dumps(slack)  # built-in first steps


def test_payloads_stay_within_slack_and_discord_limits():
    from sge_recon.alerts.channels import Message, discord_payload, slack_payload

    huge = Message("x" * 5000, [(f"field {n}", "v" * 3000) for n in range(30)], ["s" * 5000] * 3,
                   "https://console.example.test/ledger", priority="P0",
                   lines=["l" * 200] * 100, lines_title="Batches")
    slack, discord = slack_payload(huge), discord_payload(huge)
    assert len(slack["text"]) <= 3000 and len(slack["blocks"]) <= 50
    for block in slack["blocks"]:
        assert len(block.get("text", {}).get("text", "")) <= 3000
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    [embed] = discord["embeds"]
    assert len(discord["content"]) <= 2000 and len(embed["title"]) <= 256
    assert len(embed["fields"]) <= 25 and all(len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed.get("description", "")) + sum(
        len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000 and embed["description"].startswith("**Batches**")


def test_rate_limited_channel_waits_as_asked_and_gives_up_after_a_day(db_url, factory, db,
                                                                     receiver):
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    plant_webhook_exhausted(factory, db, clock)
    receiver.fail_next[SLACK] = 10_000
    receiver.fail_status, receiver.fail_headers = 429, {"Retry-After": "600"}
    sched.tick()
    [slack] = [d for d in recon.incidents.deliveries() if d["channel"] == "slack"]
    assert slack["last_error"].startswith("HTTP 429")
    assert slack["next_attempt_at"] - clock.now() == timedelta(seconds=600)  # as Slack asked
    clock.advance(minutes=9)
    sched.tick()
    assert len([p for p in receiver.posts if p["path"] == SLACK]) == 1  # not before it is due
    clock.advance(hours=25)
    sched.tick()
    incident = slack["incident_id"]
    opening, reminder = [d for d in recon.incidents.deliveries(incident) if d["channel"] == "slack"]
    assert opening["status"] == "failed" and opening["attempts"] == 2  # too old to send now
    assert reminder["event"] == "reminder" and reminder["status"] == "pending"  # still wanted
    discord = [d for d in recon.incidents.deliveries(incident) if d["channel"] == "discord"]
    assert [(d["event"], d["status"]) for d in discord] == [("open", "sent"), ("reminder", "sent")]


def test_workers_that_never_sent_a_heartbeat_page_after_the_alert_delay(db_url, factory, db,
                                                                       receiver):
    """A platform with no heartbeat row at all (workers never started, a truncated table): the
    outage is dated from the first stored worker_status failure, and pages once it has lasted
    WORKER_DOWN_ALERT_MINUTES, like one measured from a last heartbeat."""
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    sched.tick()
    assert recon.incidents.incidents() == []  # found just now: not yet 5 minutes
    clock.advance(minutes=3)
    sched.tick()
    assert recon.incidents.incidents() == []
    clock.advance(minutes=3)
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"]) == ("worker_down", "P1")
    details = incident["details"]
    assert details["last_heartbeat_at"] is None and details["down_since"]
    assert 5 * 60 < int(details["down_seconds"]) <= 7 * 60
    [slack] = receiver.delivered(SLACK)
    assert "No settlement worker has ever sent a heartbeat" in json.dumps(slack)

    factory.heartbeat("w1", last_seen_at=datetime.now(timezone.utc))  # a worker starts
    clock.advance(minutes=1)
    sched.tick()
    assert recon.incidents.incidents()[0]["status"] == "resolved"


def test_worker_down_stays_open_after_the_last_heartbeat_is_a_day_old(db_url, factory, db,
                                                                      receiver):
    """The outage lasts until a worker is live: a heartbeat older than 24 h (the retirement
    window) still dates it; it never "resolves" while every worker is dead."""
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("w1", last_seen_at=clock.now() - timedelta(minutes=10))
    sched.tick()
    [incident] = recon.incidents.incidents()
    assert incident["kind"] == "worker_down" and len(receiver.delivered(SLACK)) == 1

    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = now() - interval '24 h 5 min'")
    clock.advance(hours=23, minutes=55)
    sched.tick()
    [still] = recon.incidents.incidents()
    assert still["status"] == "open" and int(still["details"]["down_seconds"]) > 24 * 3600
    assert not any(p["text"].startswith("Resolved:") for p in receiver.delivered(SLACK))

    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = now()")  # a worker is back
    clock.advance(minutes=1)
    sched.tick()
    assert recon.incidents.incidents()[0]["status"] == "resolved"


@pytest.mark.parametrize("workers", [["w1"], ["w1", "w2"]])
def test_workers_whose_last_heartbeat_is_very_old_open_the_incident(db_url, factory, db,
                                                                    receiver, workers):
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    for n, worker in enumerate(workers):
        factory.heartbeat(worker, last_seen_at=clock.now() - timedelta(hours=30 + n))
    monitor_only(recon, clock).tick()
    [incident] = recon.incidents.incidents()
    assert (incident["kind"], incident["priority"]) == ("worker_down", "P1")
    assert int(incident["details"]["down_seconds"]) >= 30 * 3600
    assert incident["details"]["workers_seen_24h"] == 0
    assert len(receiver.delivered(SLACK)) == 1
