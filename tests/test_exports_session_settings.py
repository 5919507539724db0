"""The values an export parses are written by the server in the forms its CSV reader parses
exactly, whatever the database or role changed (DateStyle, IntervalStyle, extra_float_digits):
real PostgreSQL, both readers (the psql child and in process), DuckDB re-reading the files."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import numpy
import pytest

from sge_recon.exports import ExportService
from sge_recon.exports.exporter import Exporter
from sge_recon.exports.period import parse_period

PERIOD = parse_period("2025-03")
LAST = datetime(2025, 3, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)  # the month's last instant


def _column(folder, column: str) -> list:
    return [r[0] for r in duckdb.sql(
        f"SELECT {column} FROM read_parquet('{folder}/ledger_entries.parquet') "
        "ORDER BY created_at").fetchall()]


def _database(db) -> str:
    return db.fetch_one("SELECT current_database() AS name")["name"]


@pytest.mark.parametrize("piped", [True, False], ids=["psql", "in-process"])
def test_a_database_with_a_european_datestyle_exports_exact_instants(recon, db, factory,
                                                                      tmp_path, piped):
    db.execute("ALTER TABLE public.ledger_entries ADD COLUMN value_date date")
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1.5"), ("b", "credit", "1.5")], created_at=LAST)
    db.execute("UPDATE public.ledger_entries SET value_date = '2025-03-04'")
    db.execute(f"ALTER DATABASE {_database(db)} SET datestyle = 'SQL, DMY'")
    db.execute(f"ALTER DATABASE {_database(db)} SET intervalstyle = 'sql_standard'")
    result = Exporter(recon.db, tmp_path / "out", piped=piped).run(PERIOD)
    assert _column(result.directory, "created_at") == [LAST, LAST]
    assert _column(result.directory, "value_date") == [date(2025, 3, 4)] * 2  # not 3 April
    assert result.manifest["control_totals"][0]["debits"] == "1.500000"
    assert ExportService.verify(result.directory).exit_code == 0


@pytest.mark.parametrize("piped", [True, False], ids=["psql", "in-process"])
def test_floats_keep_every_digit_when_the_database_rounds_its_output(recon, db, factory,
                                                                     tmp_path, piped):
    db.execute("ALTER TABLE public.ledger_entries ADD COLUMN fx_rate double precision, "
               "ADD COLUMN weight real")
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1"), ("b", "credit", "1")], created_at=LAST)
    db.execute("UPDATE public.ledger_entries SET fx_rate = 0.1::float8 + 0.2::float8, "
               "weight = 1.1::real / 3")
    stored = db.fetch_one("SELECT fx_rate, weight FROM public.ledger_entries LIMIT 1")
    db.execute(f"ALTER DATABASE {_database(db)} SET extra_float_digits = 0")
    result = Exporter(recon.db, tmp_path / "out", piped=piped).run(PERIOD)
    assert _column(result.directory, "fx_rate") == [0.30000000000000004] * 2  # not 0.3
    assert _column(result.directory, "fx_rate") == [stored["fx_rate"]] * 2
    assert [numpy.float32(w) for w in _column(result.directory, "weight")] == \
        [numpy.float32(stored["weight"])] * 2
    assert isinstance(stored["fx_rate"], float) and Decimal(stored["fx_rate"]) != Decimal("0.3")


@pytest.mark.parametrize("piped", [True, False], ids=["psql", "in-process"])
def test_text_is_read_as_utf8_whatever_client_encoding_the_database_sets(recon, db, factory,
                                                                        tmp_path, piped):
    p = factory.program()["id"]
    factory.journal(p, [("café ✓ 𝄞", "debit", "1"), ("b", "credit", "1")], created_at=LAST)
    db.execute(f"ALTER DATABASE {_database(db)} SET client_encoding = 'LATIN1'")
    result = Exporter(recon.db, tmp_path / "out", piped=piped).run(PERIOD)
    assert sorted(_column(result.directory, "account")) == ["b", "café ✓ 𝄞"]
