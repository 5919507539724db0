"""The schedule, as operators read it (all times UTC):

=========================  ====================  ==============================================
job                        when                  does
=========================  ====================  ==============================================
monitor                    every minute          fast SQL checks (stored), a metrics sample for
                                                 the trends, incident rules, alert delivery
daily_reconciliation       daily 02:00           the full catalogue through Great Expectations,
                                                 stored, then the incident rules
weekly_payout_reminder     Monday 09:00          pending/approved payout batches, their age and
                                                 total, posted to Slack/Discord
monthly_audit_export       the 1st, 03:00        last month's audit export, catching up any
                                                 month that is missing
=========================  ====================  ==============================================

Every run is recorded in ``recon.job_runs``; a slot runs once even with two schedulers.
"""

from sge_recon.scheduling import JobSpec, default_jobs


def jobs() -> list[JobSpec]:
    """The jobs the scheduler runs (the library's default schedule)."""
    return default_jobs()


if __name__ == "__main__":
    for spec in jobs():
        print(f"{spec.name:<24} {spec.cadence.describe():<28} {spec.description}")
