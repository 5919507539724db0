"""An unfinished month is never taken for a whole one: exporting it needs --force, and such a
preliminary export never blocks the real monthly export (the catch-up replaces it). And
`sge-recon traffic` rides out a PostgreSQL restart with a message instead of a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from refplatform.setup import ddl_files
from sge_recon.context import Recon
from sge_recon.db import Database, init_db
from sge_recon.exports.period import Period
from sge_recon.scheduling import ManualClock, Scheduler, default_jobs

from .conftest import settings_for
from .test_faults_postgres import restartable, wait_for  # noqa: F401 - fixture


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_the_cli_refuses_an_unfinished_month_without_force(cli_env, tmp_path):
    month = Period.of(datetime.now(timezone.utc)).label
    args = [sys.executable, "-m", "sge_recon", "export", "--period", month, "--out",
            str(tmp_path)]
    refused = subprocess.run(args, env=cli_env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 3
    assert refused.stderr.startswith("Error: ") and "not over yet" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / month).exists()
    forced = subprocess.run(args + ["--force"], env=cli_env, capture_output=True, text=True,
                            timeout=120)
    assert forced.returncode == 0, forced.stderr
    manifest = json.loads((tmp_path / month / "manifest.json").read_text())
    assert manifest["complete_month"] is False


def test_a_preliminary_export_does_not_block_the_monthly_export(db_url, factory, tmp_path):
    recon = Recon(settings_for(db_url))
    recon.exports.out_dir = tmp_path / "exports"
    program = factory.program()
    factory.journal(program["id"], [("treasury", "debit", "10"), ("user:u", "credit", "10")],
                    created_at=utc(2026, 9, 10))
    recon.exports.export("2026-09")
    # as if taken on 2026-09-20 with --force: the folder exists, its month was not over
    folder = tmp_path / "exports" / "2026-09"
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["complete_month"] = False
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "2026-09" in recon.exports.missing_periods("2026-09", tmp_path / "exports")

    monthly = [s for s in default_jobs() if s.name == "monthly_audit_export"]
    [outcome] = Scheduler(recon.job_services, monthly, ManualClock(utc(2026, 10, 1, 3, 5))).tick()
    assert outcome.status == "succeeded", outcome.error
    assert outcome.details["exported"] == ["2026-09"]
    assert json.loads((folder / "manifest.json").read_text())["complete_month"] is True
    assert list((tmp_path / "exports").glob("2026-09.replaced-*"))  # the preliminary one kept
    assert recon.exports.verify(folder).ok


@pytest.mark.slow
def test_traffic_rides_out_a_postgres_restart(restartable, tmp_path):  # noqa: F811
    url = restartable.url.replace("/postgres?", "/platform?")
    init_db(Database(url), platform_ddl=ddl_files())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, SGE_RECON_HOME=str(tmp_path / "home"))
    log = open(tmp_path / "traffic.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "traffic", "--rate", "20",
                             "--receiver-port", "-1", "--batch-every", "0"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)

    def intents() -> int:
        try:
            return Database(url).fetch_one(
                "SELECT count(*) AS n FROM public.settlement_intents")["n"]
        except Exception:  # noqa: BLE001 - down
            return -1
    try:
        assert wait_for(lambda: intents() >= 10, 60)
        restartable.stop()
        time.sleep(4)
        assert proc.poll() is None, "traffic died when PostgreSQL stopped"
        restartable.start()
        before = intents()
        assert wait_for(lambda: intents() >= before + 20, 60), "traffic did not resume"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.seek(0)
        text = log.read()
        log.close()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert "database is unavailable" in text and "database is back" in text
    assert "outage(s) ridden out" in text
