"""A scheduled job whose slot failed and will not be tried again (the monthly audit export into
an exports folder that cannot be written) paged nobody: the scheduler logged it and
recon.job_runs kept it, so the auditors' month was simply missing. Now one P2 `job_failed`
incident pages once its attempts are used up, never while a retry is still due, and resolves
when the job next succeeds. Real database, real scheduler and exports, real HTTP receiver."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sge_recon.metrics.facts import RETRIED_JOBS
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .test_alerts import SLACK, alerting_recon, receiver  # noqa: F401

# months already over by the server's clock (the export refuses a running month)
FIRST_SLOT = datetime(2026, 10, 1, 3, 0, 5, tzinfo=timezone.utc)
NEXT_SLOT = datetime(2026, 11, 1, 3, 0, 5, tzinfo=timezone.utc)


def _job_messages(receiver) -> list[str]:
    return [m["text"] for m in receiver.delivered(SLACK) if "monthly_audit_export" in m["text"]]


def test_a_monthly_export_that_fails_every_attempt_pages_once_and_resolves_on_success(
        db_url, receiver, tmp_path):
    exports = tmp_path / "exports"
    exports.write_text("not a folder: the export cannot be written here\n")
    recon = alerting_recon(db_url, receiver, EXPORTS_DIR=str(exports))
    clock = ManualClock(FIRST_SLOT)
    sched = Scheduler(recon.job_services, [j for j in default_jobs()
                                           if j.name in ("monitor", "monthly_audit_export")],
                      clock)
    attempts = []
    for minutes in (0, 10, 16, 17, 30, 31):  # a retry 15 min after each failure: no page yet
        # (at 31 the third attempt fails: the same tick's monitor may page)
        clock.set(FIRST_SLOT + timedelta(minutes=minutes))
        attempts += [o.status for o in sched.tick() if o.job == "monthly_audit_export"]
        assert _job_messages(receiver) == [] or minutes == 31
    assert attempts == ["failed", "skipped", "failed", "skipped", "skipped", "failed"]
    for minutes in (33, 34, 120):  # given up after 3: one page, not one per minute
        clock.set(FIRST_SLOT + timedelta(minutes=minutes))
        assert [o.status for o in sched.tick() if o.job == "monthly_audit_export"] == \
            ["skipped"]
    [page] = _job_messages(receiver)
    assert "P2" in page and "Scheduled job monthly_audit_export failed" in page
    assert "slot 2026-10-01 03:00 UTC, 3 attempt(s)" in page and "2026-09" in page  # the error
    [incident] = [i for i in recon.incidents.incidents() if i["kind"] == "job_failed"]
    assert incident["status"] == "open" and incident["details"]["attempts"] == 3

    exports.unlink()
    exports.mkdir()  # fixed: the next slot exports its month (an empty ledger: no catch-up)
    clock.set(NEXT_SLOT)
    assert {o.job: o.status for o in sched.tick()}["monthly_audit_export"] == "succeeded"
    assert (exports / "2026-10" / "manifest.json").is_file()
    clock.set(NEXT_SLOT + timedelta(minutes=1))
    sched.tick()
    [incident] = [i for i in recon.incidents.incidents() if i["kind"] == "job_failed"]
    assert incident["status"] == "resolved"
    # the page; one reminder (a month went by, ALERT_REMINDER_HOURS apart); the resolution
    first, reminder, resolved = _job_messages(receiver)
    assert reminder.startswith("Reminder:") and resolved.startswith("Resolved:")


def test_a_failed_slot_whose_retry_never_comes_pages(db_url, db, receiver):
    """Attempts left, but no new attempt began (the slot's grace ended, or no scheduler is left
    to retry it): the night stays unreconciled, so it pages 20 min after the failure."""
    recon = alerting_recon(db_url, receiver)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db.execute("INSERT INTO recon.job_runs (job, scheduled_for, started_at, finished_at, status, "
               "error, host, attempts) VALUES ('daily_reconciliation', %(slot)s, %(slot)s, "
               "%(end)s, 'failed', 'the gx engine failed', 'h', 1)",
               {"slot": now - timedelta(minutes=30), "end": now - timedelta(minutes=19)})
    recon.incidents.evaluate(now)
    assert [i for i in recon.incidents.incidents() if i["kind"] == "job_failed"] == []
    recon.incidents.evaluate(now + timedelta(minutes=2))
    [incident] = [i for i in recon.incidents.incidents() if i["kind"] == "job_failed"]
    assert incident["key"] == "daily_reconciliation" and incident["priority"] == "P2"
    assert "the gx engine failed" in incident["title"]


def test_the_retried_jobs_are_the_schedulers_jobs_less_the_monitor():
    assert set(RETRIED_JOBS) == {j.name for j in default_jobs() if j.max_attempts > 1}
