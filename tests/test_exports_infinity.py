"""A timestamp or date of ±infinity (PostgreSQL's, idiomatic for "valid until further notice")
has no Parquet value: the export refuses it with a sentence that names the table, the column and
what to do, never a bare conversion error. Real PostgreSQL and the real command line."""

from __future__ import annotations

from datetime import datetime, timezone

from .test_exports_cli import run

IN = datetime(2025, 3, 14, 9, tzinfo=timezone.utc)


def test_an_infinite_timestamp_is_refused_with_what_to_do(cli_env, db, factory, tmp_path):
    db.execute("ALTER TABLE public.ledger_entries ADD COLUMN valid_until timestamptz, "
               "ADD COLUMN value_date date")
    p = factory.program()["id"]
    factory.journal(p, [("a", "debit", "1"), ("b", "credit", "1")], created_at=IN)
    db.execute("UPDATE public.ledger_entries SET valid_until = 'infinity'")
    out = tmp_path / "out"
    result = run(cli_env, "export", "--period", "2025-03", "--out", str(out))
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    assert "Error: ledger_entries.valid_until: a value could not be converted exactly" in \
        result.stderr
    assert "valid_until (timestamp with time zone) holds 'infinity', which a Parquet timestamp " \
           "cannot hold and the export does not change: on the platform, give that row a real " \
           "valid_until (NULL where it means 'never'), then export again" in result.stderr
    db.execute("UPDATE public.ledger_entries SET valid_until = NULL, value_date = '-infinity'")
    result = run(cli_env, "export", "--period", "2025-03", "--out", str(out))
    assert result.returncode == 3 and "value_date (date) holds '-infinity', which a Parquet " \
        "date cannot hold" in result.stderr, result.stderr
    assert not (out / "2025-03").exists()
