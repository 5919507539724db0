"""Inhibition by a declared cause (issue 19; checks.yml caused_by): a worker outage with a queue
backlog and stuck intents pages ONCE (worker_down); queue_depth and stuck_intents are opened as
its children (recorded, counted, no message); effects that clear with the cause never page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.config import Settings
from sge_recon.errors import ReconError

from .test_alerts import (DISCORD, SLACK, alerting_recon, monitor_only, receiver,  # noqa: F401
                          start_clock)


def backlog_with_a_stuck_intent(factory, db, clock) -> dict:
    """501 waiting settlement jobs (over QUEUE_DEPTH_FAIL) and an intent stuck for 20 min."""
    p = factory.program()
    u = factory.user(p["id"])
    intent = factory.intent(p["id"], u["id"], status="processing", amount=Decimal("250.00"),
                            status_changed_at=clock.now() - timedelta(minutes=20))
    db.execute("INSERT INTO public.jobs (queue, status) "
               "SELECT 'settlement', 'waiting' FROM generate_series(1, 501)")
    return intent


def drain(db, clock, intent: dict) -> None:
    """The workers are back and work everything off: nothing waits, the intent completes."""
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    db.execute("UPDATE public.jobs SET status = 'completed'")
    db.execute("UPDATE public.settlement_intents SET status = 'completed', completed_at = %s "
               "WHERE id = %s", (clock.now(), intent["id"]))


def test_a_worker_outage_pages_once_with_its_effects_as_children(db_url, db, factory,
                                                                 receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("worker-1", last_seen_at=clock.now() - timedelta(minutes=3))
    intent = backlog_with_a_stuck_intent(factory, db, clock)
    clock.advance(minutes=3)

    sched.tick()
    incidents = {i["kind"]: i for i in recon.incidents.incidents()}
    assert set(incidents) == {"worker_down", "queue_depth", "stuck_intents"}
    parent = incidents["worker_down"]
    for child in ("queue_depth", "stuck_intents"):
        inhibited = incidents[child]["details"]["inhibited_by"]
        assert (inhibited["kind"], inhibited["incident_id"]) == ("worker_down", parent["id"])
    slack, discord = receiver.delivered(SLACK), receiver.delivered(DISCORD)
    assert len(slack) == len(discord) == 1
    assert slack[0]["text"].startswith(f"[unnamed] P1 incident #{parent['id']}")

    # the workers come back and drain everything: one resolution, for the page that was sent
    clock.advance(minutes=10)
    drain(db, clock, intent)
    sched.tick()
    assert {i["status"] for i in recon.incidents.incidents()} == {"resolved"}
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith("Resolved:")


def test_an_effect_that_outlives_its_cause_pages_on_its_own(db_url, db, factory,
                                                            receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver, live_worker=False)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("worker-1", last_seen_at=clock.now() - timedelta(minutes=6))
    db.execute("INSERT INTO public.jobs (queue, status) "
               "SELECT 'settlement', 'waiting' FROM generate_series(1, 501)")
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 1
    clock.advance(minutes=1)
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    sched.tick()  # workers back, the backlog still there: now the queue pages
    texts = [m["text"] for m in receiver.delivered(SLACK)]
    assert len(texts) == 3  # worker_down opened, worker_down resolved, queue_depth opened
    assert any(t.startswith("[unnamed] P2 incident") for t in texts)


def test_a_paused_queue_pages_once_with_its_backlog_and_stuck_intents_as_children(
        db_url, db, factory, receiver):  # noqa: F811
    recon = alerting_recon(db_url, receiver)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("worker-1", last_seen_at=clock.now())  # workers are fine: only paused
    db.execute("INSERT INTO public.queue_control (queue, paused, changed_at, changed_by) "
               "VALUES ('settlement', true, %s, 'alice') ON CONFLICT (queue) DO UPDATE SET "
               "paused = true, changed_at = excluded.changed_at, changed_by = 'alice'",
               (clock.now() - timedelta(minutes=30),))
    intent = backlog_with_a_stuck_intent(factory, db, clock)

    sched.tick()
    incidents = {i["kind"]: i for i in recon.incidents.incidents()}
    assert set(incidents) == {"queue_paused", "queue_depth", "stuck_intents"}
    parent = incidents["queue_paused"]
    # the pause pages for its children: at the most urgent priority among them (stuck: P1)
    assert parent["priority"] == "P1" and "paused by alice" in parent["title"]
    assert parent["details"]["escalated_by"] == {"kind": "stuck_intents", "priority": "P1"}
    for child in ("queue_depth", "stuck_intents"):
        inhibited = incidents[child]["details"]["inhibited_by"]
        assert (inhibited["kind"], inhibited["incident_id"]) == ("queue_paused", parent["id"])
    slack = receiver.delivered(SLACK)
    assert len(slack) == 1 and slack[0]["text"].startswith(
        f"[unnamed] P1 incident #{parent['id']}")
    assert "Settlement queue paused by alice" in slack[0]["text"]

    # resumed, the workers drain it: the one page resolves, the children close silently
    clock.advance(minutes=5)
    db.execute("UPDATE public.queue_control SET paused = false, changed_at = %s, "
               "changed_by = 'alice' WHERE queue = 'settlement'", (clock.now(),))
    drain(db, clock, intent)
    sched.tick()
    assert {i["status"] for i in recon.incidents.incidents()} == {"resolved"}
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith("Resolved:")


def test_caused_by_must_name_known_checks(tmp_path):
    from pathlib import Path
    import shutil
    src = Path(__file__).resolve().parent.parent / "checks"
    shutil.copytree(src, tmp_path / "checks")
    yml = tmp_path / "checks" / "checks.yml"
    yml.write_text(yml.read_text().replace("caused_by: [worker_status, queue_paused]\n",
                                           "caused_by: [no_such_check]\n", 1))
    with pytest.raises(ReconError, match="caused_by names unknown check"):
        load_catalogue(tmp_path / "checks", check_params(Settings.load(env={})))


def paused_and_paged(db_url, db, factory, receiver):
    """The settlement queue paused by alice (a P3 incident, paged to PagerDuty as 'info'): the
    Recon, clock, monitor scheduler, the incident and PagerDuty's path on the receiver."""
    pd = "/v2/enqueue"
    recon = alerting_recon(db_url, receiver, PAGERDUTY_ROUTING_KEY="R0uting-key-0123456789",
                           PAGERDUTY_EVENTS_URL=receiver.base + pd)
    clock = start_clock()
    sched = monitor_only(recon, clock)
    factory.heartbeat("worker-1", last_seen_at=clock.now())
    db.execute("INSERT INTO public.queue_control (queue, paused, changed_at, changed_by) "
               "VALUES ('settlement', true, %s, 'alice') ON CONFLICT (queue) DO UPDATE SET "
               "paused = true, changed_at = excluded.changed_at, changed_by = 'alice'",
               (clock.now(),))
    sched.tick()
    [parent] = recon.incidents.incidents()
    return recon, clock, sched, parent, pd

def test_a_paused_queue_whose_intents_get_stuck_escalates_its_page(db_url, db, factory,
                                                                   receiver):  # noqa: F811
    """Paused (P3, PagerDuty 'info'): then intents get stuck behind it (P1, muted as its
    children): the one incident is escalated to P1 and announced once; PagerDuty gets a trigger
    with the same dedup_key and severity 'error'."""
    recon, clock, sched, parent, pd = paused_and_paged(db_url, db, factory, receiver)
    assert (parent["kind"], parent["priority"]) == ("queue_paused", "P3")
    [page] = receiver.delivered(pd)
    assert page["payload"]["severity"] == "info"

    clock.advance(minutes=1)
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    backlog_with_a_stuck_intent(factory, db, clock)
    sched.tick()
    incidents = {i["kind"]: i for i in recon.incidents.incidents()}
    assert incidents["queue_paused"]["id"] == parent["id"]
    assert incidents["queue_paused"]["priority"] == "P1"
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and slack[1]["text"].startswith(
        f"Escalated to P1: [unnamed] P1 incident #{parent['id']}")
    pages = receiver.delivered(pd)
    assert [(p["event_action"], p["dedup_key"], p["payload"]["severity"]) for p in pages] == [
        ("trigger", str(parent["id"]), "info"), ("trigger", str(parent["id"]), "error")]

    clock.advance(minutes=1)  # still escalated: nothing more
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2 and len(receiver.delivered(pd)) == 2


def test_an_acknowledged_paused_queue_whose_intents_get_stuck_pages_again(db_url, db, factory,
                                                                         receiver):  # noqa: F811
    """Paused on purpose (P3) and acknowledged: PagerDuty holds its alert acknowledged, and an
    acknowledged alert never notifies again, whatever triggers follow under its dedup_key. Then
    intents get stuck behind the pause (P1): that is a new page (PagerDuty's next round, under its
    own key, the acknowledged one superseded), and the incident is open again (its reminders
    resume), not a silent trigger into the acknowledged alert."""
    recon, clock, sched, parent, pd = paused_and_paged(db_url, db, factory, receiver)
    assert recon.incidents.acknowledge(parent["id"], "ada", clock.now())
    clock.advance(minutes=1)
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    sched.tick()
    assert [p["event_action"] for p in receiver.delivered(pd)] == ["trigger", "acknowledge"]

    clock.advance(minutes=1)
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    backlog_with_a_stuck_intent(factory, db, clock)
    sched.tick()
    incident = {i["kind"]: i for i in recon.incidents.incidents()}["queue_paused"]
    assert (incident["priority"], incident["status"]) == ("P1", "open")
    first, second = str(parent["id"]), f"{parent['id']}:reopened:1"
    pages = receiver.delivered(pd)
    assert [(p["event_action"], p["dedup_key"]) for p in pages] == [
        ("trigger", first), ("acknowledge", first), ("trigger", second), ("resolve", first)]
    assert pages[2]["payload"]["severity"] == "error"
    assert "P1" in pages[2]["payload"]["summary"]
    slack = receiver.delivered(SLACK)
    assert len(slack) == 2 and "P1" in slack[1]["text"]

    clock.advance(minutes=1)  # still escalated: nothing more
    db.execute("UPDATE public.worker_heartbeats SET last_seen_at = %s", (clock.now(),))
    sched.tick()
    assert len(receiver.delivered(SLACK)) == 2 and len(receiver.delivered(pd)) == 4
