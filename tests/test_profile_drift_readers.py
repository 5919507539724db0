"""Every reader says a profile relation that no longer fits the platform's tables the same way
(audit drift, D1): after a platform migration since `db init` (a column the profile reads
dropped, or retyped), the console's pages, `sge-recon export`, the scheduler's export job, the
/metrics live facts and the GX engine all say "recon_platform.<table> no longer fits the
platform's tables (…): … run `sge-recon db init` again", as the checks do: the data-access
layer translates PostgreSQL's error where it runs queries (sge_recon.db.connection), never the
driver's own line, never a traceback; an export that stops leaves no period folder."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from sge_recon.context import Recon
from sge_recon.errors import ProfileDrift
from sge_recon.scheduling.clock import ManualClock
from sge_recon.scheduling.jobs import default_jobs
from sge_recon.scheduling.scheduler import Scheduler

from .conftest import settings_for
from .test_profile_migrations import migrate, sge

SAID = "recon_platform.settlement_intents no longer fits the platform's tables"
AGAIN = "run `sge-recon db init` again"
MIGRATIONS = {
    "dropped": 'ALTER TABLE "Intent" DROP COLUMN "errorMessage"',
    "retyped": """ALTER TABLE "Intent" ALTER COLUMN "updatedAt" TYPE timestamptz(3)
                  USING "updatedAt" AT TIME ZONE 'UTC'""",
}


@pytest.fixture(scope="module", params=sorted(MIGRATIONS))
def drifted(request, new_database) -> Recon:
    recon = sge(new_database, intents=200)
    migrate(recon, MIGRATIONS[request.param])
    return Recon(settings_for(recon.db.url, PLATFORM_PROFILE="sge"))


def said(text: str) -> None:
    assert SAID in text and AGAIN in text, text
    assert "psycopg" not in text and "Traceback" not in text, text


def test_the_console_pages_say_the_relation_and_db_init(drifted):
    console = drifted.console
    for page in (console.overview, lambda: console.intent_detail("any-intent")):
        with pytest.raises(ProfileDrift) as caught:
            page()
        said(caught.value.message)
    # a live check's list says it as the check does
    said(console.stuck_list().unknown or "")


def test_an_export_stops_with_the_sentence_and_writes_nothing(drifted, tmp_path):
    with pytest.raises(ProfileDrift) as caught:
        drifted.exports.export("2026-10", out_dir=tmp_path / "out", force=True)
    said(caught.value.message)
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_the_export_command_says_it_without_a_traceback(drifted, tmp_path):
    env = {"DATABASE_URL": drifted.db.url, "PLATFORM_PROFILE": "sge",
           "SGE_RECON_HOME": str(tmp_path / "home")}
    import os
    done = subprocess.run([sys.executable, "-m", "sge_recon", "export", "--period", "2026-10",
                           "--force", "--out", str(tmp_path / "out")],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done
    assert done.stderr.startswith("Error: " + SAID), done.stderr
    said(done.stderr)
    assert not (tmp_path / "out" / "2026-10").exists()


def test_the_scheduled_export_job_fails_with_the_sentence(drifted, tmp_path):
    recon = Recon(settings_for(drifted.db.url, PLATFORM_PROFILE="sge",
                               EXPORTS_DIR=str(tmp_path / "exports")))
    monthly = [s for s in default_jobs() if s.name == "monthly_audit_export"]
    # the 1st of this month, 03:10: the job is due only until the 28th, 03:00 (its grace), and
    # this test failed from then to the month's end when it ran at the real time
    first = datetime.now(timezone.utc).replace(day=1, hour=3, minute=10, second=0, microsecond=0)
    [outcome] = Scheduler(recon.job_services, monthly, ManualClock(first)).tick()
    assert outcome.status == "failed", outcome
    said(outcome.error)


def test_the_metrics_live_facts_say_it(drifted, caplog):
    collector = drifted.metrics_collector(ttl=0)
    with caplog.at_level("WARNING"):
        families = {f.name: f for f in collector.collect()}
    assert families["sge_recon_up"].samples[0].value == 0
    said(caplog.text)


def test_the_gx_engine_says_it(drifted):
    result = drifted.checks.run(only=["stuck_intents"], engine="gx", store=False).by_name()
    said(result["stuck_intents"].error)
