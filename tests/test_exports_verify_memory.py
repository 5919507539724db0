"""`sge-recon export verify` on an auditor's machine works in bounded memory (2.3 GB unbounded
for a month of 16.6 M entries, 283 MB bounded): a step DuckDB cannot spill within the bound runs
again without it, and running out of memory even then is an error (exit 3), never a finding
about the files ("control totals cannot be computed", exit 1, was what an auditor read)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from sge_recon.cli import main
from sge_recon.context import Recon
from sge_recon.db import Database, audit_bounded
from sge_recon.errors import ExportError
from sge_recon.exports import ExportService

from .conftest import settings_for
from .factories import PlatformFactory
from .test_exports_cli import IN, PERIOD, small_month

COPIES = 400_000  # 6 entries each: 2.4 M entries in 1.2 M transactions, more than 16 MB holds
TOO_SMALL = ("SET memory_limit = '16MB'", "SET threads = 1")


@pytest.fixture(scope="module")
def big_folder(module_db_url, tmp_path_factory):
    """A real export whose ledger file is then replaced by 400,000 copies of its own rows, each
    copy its own transactions: one unbalanced transaction per copy."""
    import duckdb

    factory = PlatformFactory(Database(module_db_url))
    small_month(factory)
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.00"), ("user:b", "credit", "9.99")],
                    created_at=IN)
    exported = Recon(settings_for(module_db_url)).exports.export(
        PERIOD, out_dir=tmp_path_factory.mktemp("exports")).directory
    folder = tmp_path_factory.mktemp("big") / PERIOD
    shutil.copytree(exported, folder)
    ledger = folder / "ledger_entries.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * REPLACE (id * {COPIES} + i AS id, transaction_id || '-' || i AS "
            f"transaction_id) FROM read_parquet('{exported / ledger.name}'), range({COPIES}) t(i))"
            f" TO '{ledger}' (FORMAT parquet)")
    return folder


def test_verify_reads_a_big_month_within_the_bound_and_falls_back_only_past_it(
        big_folder, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger=audit_bounded.__name__)
    bounded = ExportService.verify(big_folder).as_dict()
    assert bounded["transactions_unbalanced"] == COPIES
    assert any("does not balance: debits 10.000000, credits 9.990000" in m["problem"]
               for m in bounded["mismatches"] + bounded["findings"]), bounded
    assert not caplog.records  # 2.4 M entries spill within the bound

    monkeypatch.setattr(audit_bounded, "_BOUNDED", TOO_SMALL)
    again = ExportService.verify(big_folder).as_dict()
    assert again == bounded  # the same report, every figure
    # the bound was in force (it ran out), and the grouping ran again without it
    assert any("could not spill the control totals of ledger_entries.parquet within 15.2 MiB"
               in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_out_of_memory_even_without_the_bound_is_an_error_not_a_finding(
        big_folder, monkeypatch, capsys):
    def small_everywhere(folder, **kwargs):  # a machine with less memory than the month needs
        con = opened(folder, **kwargs)
        con.execute("SET memory_limit = '16MB'")
        return con

    opened = audit_bounded.open_audit_db
    monkeypatch.setattr(audit_bounded, "_BOUNDED", TOO_SMALL)
    monkeypatch.setattr(audit_bounded, "open_audit_db", small_everywhere)
    with pytest.raises(ExportError, match="ran out of memory on the control totals of "
                                          "ledger_entries.parquet") as raised:
        ExportService.verify(big_folder)
    assert "says nothing about the files" in str(raised.value)

    with pytest.raises(SystemExit) as exited:
        main(["export", "verify", str(big_folder)])
    out, err = capsys.readouterr()
    assert exited.value.code == 3, (out, err)
    assert err.startswith("Error: ") and "ran out of memory" in err and "Traceback" not in err
    assert "altered" not in out + err and "cannot be computed" not in out + err


def test_the_fallback_spills_to_the_private_folder_too(big_folder, monkeypatch):
    """Without the bound DuckDB may still spill (past 80 % of the memory): to sge-recon's private
    folder, removed at the end, never DuckDB's default .tmp in the working directory."""
    from sge_recon.db import exports as store

    monkeypatch.setattr(audit_bounded, "_BOUNDED", TOO_SMALL)
    ledger = store.in_folder(big_folder, "ledger_entries.parquet")

    def group_then_say_how(con):
        store.unbalanced(con, ledger, 10)  # out of memory within 16 MB
        return con.execute("SELECT current_setting('memory_limit'), "
                           "current_setting('temp_directory')").fetchone()

    with store.steps_within_bound(big_folder) as steps:
        limit, spill = steps.run(group_then_say_how, what="the test's grouping")
        assert limit != steps.bound and Path(spill).is_dir()
        assert Path(spill).name.startswith("sge-recon-spill-")
    assert not Path(spill).exists()
