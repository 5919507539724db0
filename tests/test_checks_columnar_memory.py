"""The columnar engine's DuckDB is bounded (COLUMNAR_MEMORY_LIMIT, 256MB by default): unbounded
it took 1.14 GB at 6 M entries beside the platform (DuckDB's default is 80 % of the machine's
memory). Bounded it spills to a private folder, removed after the run; a check it cannot run
within the bound runs on PostgreSQL, and the reason names the setting."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from sge_recon.checks.columnar_engine import SERVED
from sge_recon.config import Settings
from sge_recon.context import Recon
from sge_recon.db import Database, columnar
from sge_recon.errors import ConfigError

from .conftest import settings_for
from .test_checks_columnar import _compare

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value,duckdb_reads", [
    ("256MB", "256.0 MiB"),   # PostgreSQL's units (1024), as CHECK_WORK_MEM: not DuckDB's 10^6
    ("1GB", "1.0 GiB"),
    ("16MB", "16.0 MiB"),     # the least
    ("20480kB", "20.0 MiB"),
    ("16777215TB", "16383.9 PiB"),  # the most: DuckDB refuses 16777216TB (2^64 bytes)
    ("none", None),
])
def test_the_setting_reads_as_duckdb_takes_it(value, duckdb_reads):
    import duckdb

    from sge_recon.config_checks import duckdb_memory_limit

    settings = Settings.load(env={"COLUMNAR_MEMORY_LIMIT": value})
    limit = duckdb_memory_limit(settings.COLUMNAR_MEMORY_LIMIT)
    if duckdb_reads is None:
        assert limit is None
        return
    with duckdb.connect() as con:
        con.execute("SET memory_limit = ?", [limit])
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == duckdb_reads


@pytest.mark.parametrize("value,fragment", [
    ("256 MB", "a memory size such as 256MB"),
    ("256mb", "a memory size such as 256MB"),
    ("lots", "a memory size such as 256MB"),
    ("-1GB", "a memory size such as 256MB"),
    ("0", "a memory size such as 256MB"),
    ("15MB", "at least 16MB"),
    ("16777216TB", "at most 16777215TB"),  # DuckDB refuses it: the night's run would fail
    ("9999999999999TB", "at most 16777215TB"),
])
def test_a_wrong_size_is_refused_at_start_naming_the_setting(value, fragment):
    with pytest.raises(ConfigError, match="COLUMNAR_MEMORY_LIMIT") as refused:
        Settings.load(env={"COLUMNAR_MEMORY_LIMIT": value})
    assert fragment in str(refused.value)


@pytest.fixture
def ledger(db_url) -> str:
    """40,000 balanced journals and one unbalanced, all live (no export)."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, account, type, amount, "
            "currency) SELECT 'p1', 't' || (g / 2), CASE WHEN g % 2 = 0 THEN 'treasury' ELSE "
            "'user:u' || g END, CASE WHEN g % 2 = 0 THEN 'debit' ELSE 'credit' END, "
            "CASE WHEN g = 7 THEN 6 ELSE 5 END, 'USD' FROM generate_series(0, 79999) AS g")
    return db_url


@pytest.mark.parametrize("setting,reads", [("16MB", "16.0 MiB"), ("none", None)])
def test_the_bound_reaches_the_sweep_and_the_answers_stay_the_same(ledger, tmp_path, setting,
                                                                   reads):
    recon = Recon(settings_for(ledger, COLUMNAR_MEMORY_LIMIT=setting, EXPORTS_DIR=tmp_path / "x",
                               SGE_RECON_HOME=tmp_path / "home"))
    duck = _compare(recon)  # every served check: DuckDB's answer equals PostgreSQL's
    assert duck["transaction_balance"].failing_rows == 1
    for name in SERVED:
        assert duck[name].engine == "duckdb", duck[name].details
        assert duck[name].details["columnar"]["memory_limit"] == reads


def test_a_check_duckdb_cannot_run_within_the_bound_says_which_setting_to_raise(ledger):
    """Below the setting's least (16MB), as a ledger far larger than the bound would be: DuckDB
    gives up, and the sweep names the setting (the engine then runs the check on PostgreSQL)."""
    db = Database(ledger)
    live = columnar.read_live(db, [])
    sql = (ROOT / "checks" / "duckdb" / "transaction_balance.sql").read_text()
    with columnar.ColumnarSweep(live, memory_limit="256KiB") as sweep:
        spill = Path(sweep.con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert spill.is_dir() and spill.name.startswith("sge-recon-spill-")
        with pytest.raises(columnar.SweepQueryError) as failed:
            sweep.measure(sql, {}, 10)
    assert "ran out of memory within COLUMNAR_MEMORY_LIMIT (256.0 KiB): raise it" \
        in str(failed.value)
    assert not spill.exists()  # removed with the sweep


def test_unbounded_too_the_sweep_spills_to_its_own_folder(ledger):
    """COLUMNAR_MEMORY_LIMIT=none: DuckDB's default bound, but never its default spill folder
    (.tmp in the working directory)."""
    with columnar.ColumnarSweep(columnar.read_live(Database(ledger), [])) as sweep:
        spill = Path(sweep.con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert spill.is_dir() and spill.name.startswith("sge-recon-spill-")
        assert sweep.memory_limit is None
    assert not spill.exists()
