"""/metrics measures ages and windows by the database server's clock, not the exporter host's.

``sge_worker_down_seconds`` is now minus the last heartbeat, which the platform's workers write by
the database's clock, and the WorkersDown rule (docs/prometheus-alerts.yml) pages when it passes
300. The processing-time histogram counts completions (``completed_at``, the platform's clock) up
to a minute before now and keeps a watermark. The collector read "now" from its host: with the
host a few hours behind the server the outage read as negative seconds (WorkersDown paged hours
late) and the histogram counted only completions hours old; with it ahead, an outage read as
hours long from its first minute, and the watermark ran hours into the server's future, so no
completion was ever counted (ProcessingSlow could never fire). The embedded server's clock is
the host's, so the test moves the host's clock as the collector's clock sees it (its module's
``datetime``) and keeps the real server.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sge_recon.scheduling import clock as clock_module

from .factories import now as db_now
from .host_clock import host_clock_off_by


def _host_clock_off_by(monkeypatch, offset: timedelta) -> None:
    host_clock_off_by(monkeypatch, clock_module, offset)


def _samples(collector) -> dict[str, float]:
    return {s.name: s.value for family in collector.collect() for s in family.samples
            if not s.labels or s.labels.get("le") is None}


@pytest.mark.parametrize("offset", [timedelta(hours=-3), timedelta(hours=3)],
                         ids=["host_behind", "host_ahead"])
def test_worker_down_seconds_and_the_histogram_read_the_servers_clock(
        recon, factory, monkeypatch, offset):
    at = db_now()
    factory.heartbeat("w1", last_seen_at=at - timedelta(minutes=10))  # down 10 min
    program = factory.program(id="prog_a")
    user = factory.user(program["id"])
    factory.intent(program["id"], user["id"], status="completed",
                   created_at=at - timedelta(minutes=5, seconds=4),
                   completed_at=at - timedelta(minutes=5))  # took 4 s, 5 min ago
    _host_clock_off_by(monkeypatch, offset)

    samples = _samples(recon.metrics_collector(ttl=0))

    assert 540 <= samples["sge_worker_down_seconds"] <= 720, samples["sge_worker_down_seconds"]
    assert samples["sge_intent_processing_duration_seconds_count"] == 1
    assert samples["sge_intent_processing_duration_seconds_sum"] == pytest.approx(4.0)
