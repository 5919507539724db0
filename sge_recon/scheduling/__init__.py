"""Scheduled jobs (DESIGN §7): UTC cadences, an injectable clock, exactly-once slots in
recon.job_runs, and the four jobs (monitor, daily reconciliation, weekly payout reminder,
monthly audit export)."""

from .cadence import Cadence
from .clock import Clock, DatabaseClock, ManualClock, SystemClock
from .jobs import JobFailed, default_jobs
from .scheduler import JobContext, JobOutcome, JobServices, JobSpec, Scheduler

__all__ = ["Cadence", "Clock", "DatabaseClock", "JobContext", "JobFailed", "JobOutcome", "JobServices", "JobSpec",
           "ManualClock", "Scheduler", "SystemClock", "default_jobs"]
