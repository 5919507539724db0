"""The checks that read the whole ledger (millions of entries) must be able to run in PostgreSQL's
parallel workers: one expression the planner may not hand to a worker (a correlated subquery, a
function not marked PARALLEL SAFE) keeps the whole statement in one process, every scan in it
included. platform_data_integrity's cancelled-commission subquery did (its six branches could
not be one Parallel Append): 1.85 s -> 1.12 s at 2 M SGE entries once it became a join. Planned
with parallel plans made free, on the small test platforms."""

from __future__ import annotations

import psycopg
import pytest

from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.checks.sqltext import for_psycopg
from sge_recon.context import Recon
from sge_recon.db import ledger_checkpoint

from .platform_helpers import sge_through_profile

FULL_HISTORY = ["platform_data_integrity", "ledger_balance", "transaction_balance",
                "ledger_tamper", "commission_ledger", "intent_completion",
                "commission_duplicates", "journal_single_program"]
_FREE_PARALLELISM = ("parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                     "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2")


@pytest.fixture(scope="module")
def sge(new_database) -> Recon:
    return sge_through_profile(new_database(empty=True), intents=200, seed=11)


@pytest.fixture(params=["reference", "sge"])
def platform(request) -> Recon:
    """The reference platform's tables, and SGE's through its profile's relations."""
    return request.getfixturevalue("recon" if request.param == "reference" else "sge")


def parallel_plan(recon, name: str) -> str:
    params = check_params(recon.settings)
    [definition] = [d for d in load_catalogue(recon.settings.checks_dir, params)
                    if d.name == name]
    relations = recon.db.relations
    sql = for_psycopg(ledger_checkpoint.keyed_sql(relations.resolve(definition.sql), relations))
    with psycopg.connect(recon.db.url) as conn:
        for setting in _FREE_PARALLELISM:
            conn.execute(f"SET {setting}")
        return "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT count(*) FROM ({sql}) AS q", params))


@pytest.mark.parametrize("name", FULL_HISTORY)
def test_a_full_history_check_has_nothing_a_parallel_worker_may_not_run(platform, name):
    """A correlated subquery is a SubPlan, which only the leader process may run (an InitPlan,
    computed once, is not)."""
    plan = parallel_plan(platform, name)
    assert "SubPlan" not in plan, plan

