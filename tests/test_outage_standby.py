"""Outages of the platform-read standby (PLATFORM_READ_URL) and of the primary, as the exporter,
the CLI and the scheduler meet them: each says what went wrong, and alerting never goes blind."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone

from sge_recon.context import Recon
from sge_recon.metrics import MetricsServer, ReconCollector
from sge_recon.scheduling import ManualClock

from .conftest import settings_for
from .test_metrics import plant_faults, scrape

UTC = timezone.utc


def _unreachable_url() -> tuple[str, str]:
    """A standby that is down: a socket folder where no server listens (a stopped server's)."""
    gone = tempfile.mkdtemp(prefix="sgr-gone-", dir="/tmp")
    return f"postgresql://postgres@/postgres?host={gone}", gone


def test_a_standby_that_is_down_is_reported_stale_and_metrics_read_the_primary(db_url, factory,
                                                                                db):
    """The standby of PLATFORM_READ_URL stopped: the signal checks fall back to the primary (the
    facts say so), but the processing-time histogram still read the standby, so every refresh
    failed as a whole: sge_recon_up 0, every gauge frozen at its last value and
    sge_recon_replica_stale never 1 (ReplicaStale never fired; a new ledger imbalance never
    showed). Now the refresh reads where the facts were read and reports the standby stale."""
    now = datetime.now(UTC).replace(microsecond=0)
    plant_faults(factory, db, now)
    url, gone = _unreachable_url()
    recon = Recon(settings_for(db_url, PLATFORM_READ_URL=url))
    collector = ReconCollector(recon.settings, recon.databases, ttl=60, clock=ManualClock(now))
    srv = MetricsServer(collector, port=0).start()
    try:
        m = scrape(srv.url)
    finally:
        srv.stop()
        shutil.rmtree(gone, ignore_errors=True)
    assert m["sge_recon_up"][()] == 1.0
    assert m["sge_recon_replica_stale"][()] == 1.0  # docs/prometheus-alerts.yml ReplicaStale
    assert "sge_recon_replica_lag_seconds" not in m  # unknown, not 0
    # read on the primary meanwhile: the planted imbalance and the two completions of the hour
    assert m["sge_ledger_balance_difference_cents"] == {
        (("currency", "USD"), ("program_id", "prog_a")): 1.0}
    assert m["sge_intent_processing_duration_seconds_count"][()] == 2.0
