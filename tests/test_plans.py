"""The plan guard (issue 8): on a platform big enough that the planner prefers indexes, no hot
query — the per-minute fast checks in their incremental form, the console Overview's data load,
the live facts behind alerts, the checkpoint's maintenance — plans a sequential scan of a large
table (ledger_entries, settlement_intents, jobs, webhook_deliveries, commissions)."""

from __future__ import annotations

import psycopg
import pytest

from recon_bench.plans import check_plans, hot_queries
from recon_bench.store import plans
from refplatform.simulate import Simulator
from sge_recon.context import Recon

from .checkpoint_support import settle_checkpoint
from .conftest import settings_for

# History the simulator does not keep: finished jobs and delivered webhooks older than a week
# (a real platform accumulates them; the hot queries must not read them).
_HISTORY = """
INSERT INTO public.jobs (queue, intent_id, status, attempts, run_at, created_at, started_at,
                         finished_at)
SELECT 'settlement', 'old_' || g, 'completed', 1, t, t, t, t + interval '2 seconds'
FROM generate_series(1, 200000) g,
     LATERAL (SELECT now() - interval '8 days' - g * interval '10 seconds' AS t) x;
INSERT INTO public.webhook_deliveries (id, endpoint_id, event_type, payload, status,
                                       attempt_count, last_attempt_at, created_at)
SELECT 'old_wd_' || g, 'ep_old', 'intent.completed', '{}'::jsonb, 'delivered', 1, t, t
FROM generate_series(1, 100000) g,
     LATERAL (SELECT now() - interval '8 days' - g * interval '10 seconds' AS t) x;
"""


@pytest.mark.slow
def test_no_hot_query_reads_a_large_table_in_full(new_database):
    url = new_database()
    recon = Recon(settings_for(url))
    Simulator(recon).run(intents=50_000, seed=7)  # ~240 k ledger entries, 50 k intents, 65 k commissions
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_HISTORY)
    recon.checks.run()  # stored results, as the Overview reads them
    assert settle_checkpoint(recon.db).watermark > 0
    plans.analyze(recon.db)
    sizes = recon.db.fetch_all("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
                               (list(plans.LARGE_TABLES),))
    assert all(r["reltuples"] >= 40_000 for r in sizes), sizes  # big enough to matter
    checked = check_plans(recon)
    names = [c["name"] for c in checked]
    assert any(n.startswith("fast check: transaction_balance") for n in names)
    assert any(n.startswith("overview") for n in names)
    assert any(n.startswith("live facts") for n in names)
    assert any(n.startswith("checkpoint") for n in names)
    offenders = {c["name"]: c["full_scans"] for c in checked if c["full_scans"]}
    assert offenders == {}


def test_the_guard_sees_a_sequential_scan(recon):
    """The detector itself: a query without a usable index is reported."""
    [checked] = plans.explain_all(recon.db, [("unindexed", "SELECT * FROM public.ledger_entries "
                                               "WHERE account || '' = %s", ("x",))])
    assert checked["full_scans"] == ["ledger_entries"]
    # every per-minute check, every signal the alert rules compute live besides them, the
    # Overview's own reads and the checkpoint's maintenance (the Overview's lights and the live
    # facts are check results now: their second SQL is gone, so the list is shorter than it was)
    from sge_recon.metrics.facts import SIGNAL_CHECKS

    names = [n for n, _, _ in hot_queries(recon)]
    fast = {d.name for d in recon.checks.select(fast_only=True)}
    assert {f"fast check: {n}" for n in fast} <= set(names)
    assert {f"live facts: {n}" for n in SIGNAL_CHECKS if n not in fast} <= set(names)
    assert any(n.startswith("overview") for n in names)
    assert sum(n.startswith("checkpoint") for n in names) == 3
