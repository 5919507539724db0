"""The export's two readers give the same files (issue 18.1): rows read through a ``psql`` child
in the export's snapshot (the fast path) and rows read in process through libpq (the fallback).

Hostile text (quotes, commas, CR/LF inside values, empty string vs NULL, ``\\N``, unicode), money
at 38 digits and at the 6th place, several row groups, rows longer than a streaming block, a
failing value, a child killed mid-stream and a machine without psql: everything is compared file
by file and value by value with the in-process export of the same month.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import pyarrow.parquet as pq
import pytest

from sge_recon.context import Recon
from sge_recon.db import psql_copy
from sge_recon.errors import ExportError
from sge_recon.exports import stream
from sge_recon.exports.exporter import Exporter
from sge_recon.exports.period import parse_period
from sge_recon.exports.tables import TABLES

from .conftest import settings_for

PERIOD = parse_period("2025-05")
IN = datetime(2025, 5, 17, 8, 30, 1, 123456, tzinfo=timezone.utc)
HUGE = Decimal("12345678901234567890123456789012.123456")     # 38 digits
HOSTILE = ["", "a,b", 'say "hi"', '""', '"', "line1\nline2", "cr\r\nlf", "\r", " padded ",
           "\\N", "NULL", "ünïcode ✓ 𝄞", "it's", "\ttab", ",", "\n", "x" * 5000]
MANY = 200_001  # bulk ledger rows: one whole row group of 131,072 and a second, shorter one


def build(factory) -> None:
    p = factory.program()["id"]
    aff = factory.affiliate(p)["id"]
    user = factory.user(p)["id"]
    intent = factory.intent(p, user, created_at=IN, last_error="")["id"]
    factory.intent(p, user, created_at=IN, last_error=None)
    for i, text in enumerate(HOSTILE):
        factory.journal(p, [(text or "empty", "debit", "0.000001"), ("t", "credit", "0.000001")],
                        intent_id=text if i % 2 else None, created_at=IN + timedelta(seconds=i))
        factory.commission(p, aff, intent, created_at=IN, payout_batch_id=text)
    factory.journal(p, [("treasury", "debit", HUGE), ("reserve", "credit", HUGE)], created_at=IN)
    ep = factory.endpoint(p)["id"]
    for text in HOSTILE:
        factory.delivery(ep, created_at=IN, last_error=text,
                         payload={"text": text, "amount": "10.50"})
    factory.delivery(ep, created_at=IN, last_error=None, payload={"big": "y" * 3_000_000})
    with factory.db.transaction() as conn:  # enough rows for several row groups, set-based
        conn.execute(
            "INSERT INTO public.ledger_entries (program_id, transaction_id, intent_id, account, "
            " type, amount, currency, created_at) "
            "SELECT %(p)s, 'bulk_' || (g / 2), NULL, 'acct_' || (g %% 977), "
            "       CASE g %% 2 WHEN 0 THEN 'debit' ELSE 'credit' END, "
            "       (g / 2) / 1000000.0 + 0.01, 'USD', %(at)s::timestamptz + g * interval '1 ms' "
            "FROM generate_series(0, %(n)s - 1) g", {"p": p, "at": IN, "n": MANY})
    # after the bulk rows (a whole row group already counted when the reader meets it)
    factory.journal(p, [("z" * 10_000, "debit", "1"), ("t", "credit", "1")], created_at=IN)


def export(recon, out: Path, *, piped: bool) -> tuple[Exporter, object]:
    exporter = Exporter(recon.db, out, piped=piped)
    return exporter, exporter.run(PERIOD, force=True)


def assert_same_files(a, b) -> None:
    """Same files, schemas (with metadata), values, row groups and control totals."""
    for spec in TABLES:
        left, right = (pq.ParquetFile(r.directory / spec.filename) for r in (a, b))
        assert left.schema_arrow.equals(right.schema_arrow, check_metadata=True), spec.name
        assert [left.metadata.row_group(i).num_rows for i in range(left.num_row_groups)] == \
            [right.metadata.row_group(i).num_rows for i in range(right.num_row_groups)], spec.name
        assert left.read().equals(right.read(), check_metadata=True), spec.name
    files = lambda r: {f["name"]: (f["rows"], f["columns"]) for f in r.manifest["files"]  # noqa: E731
                       if f["name"].endswith(".parquet")}
    assert files(a) == files(b)
    assert a.manifest["control_totals"] == b.manifest["control_totals"]


@pytest.fixture
def month(recon, factory):
    build(factory)
    return recon


def test_the_psql_reader_writes_the_same_files_as_the_in_process_reader(month, tmp_path):
    piped, fast = export(month, tmp_path / "piped", piped=True)
    slow_exporter, slow = export(month, tmp_path / "in-process", piped=False)
    big_row = piped.readers.pop("webhook_deliveries")  # a 3 MB payload: over a block
    assert big_row == "in process" and set(piped.readers.values()) == {"psql"}, piped.readers
    assert set(slow_exporter.readers.values()) == {"in process"}
    assert_same_files(fast, slow)
    # whole row groups of ROW_GROUP_ROWS, as before
    ledger = pq.ParquetFile(fast.directory / "ledger_entries.parquet").metadata
    assert ledger.row_group(0).num_rows == stream.ROW_GROUP_ROWS and ledger.num_row_groups == 2
    # the hostile values came through exactly (empty string vs NULL, CR/LF, quotes, 38 digits)
    rows = pq.read_table(fast.directory / "commissions.parquet").column("payout_batch_id")
    assert sorted(rows.to_pylist()) == sorted(HOSTILE)
    hooks = pq.read_table(fast.directory / "webhook_deliveries.parquet").to_pylist()
    assert sorted(h["last_error"] for h in hooks if h["last_error"] is not None) == sorted(HOSTILE)
    assert sum(h["last_error"] is None for h in hooks) == 1
    assert sorted(json.loads(h["payload"]).get("text", "~") for h in hooks) == \
        sorted(HOSTILE + ["~"])
    amounts = pq.read_table(fast.directory / "ledger_entries.parquet").column("amount").to_pylist()
    assert HUGE in amounts and Decimal("0.000001") in amounts
    intents = pq.read_table(fast.directory / "settlement_intents.parquet").column("last_error")
    assert sorted(intents.to_pylist(), key=repr) == ["", None]


def test_small_blocks_and_a_row_longer_than_a_block(month, tmp_path, monkeypatch):
    """Tiny streaming blocks cut rows and quoted newlines everywhere; a row longer than a block
    sends its table (only) back through the in-process reader, totals counted once."""
    monkeypatch.setattr(stream, "STREAM_BLOCK_BYTES", 4096)
    piped, fast = export(month, tmp_path / "piped", piped=True)
    _, slow = export(month, tmp_path / "in-process", piped=False)
    assert piped.readers["webhook_deliveries"] == "in process"  # the 3 MB payload
    assert piped.readers["ledger_entries"] == "in process"      # a 10,000-character account
    assert piped.readers["commissions"] == "psql"  # 5,000 characters: across one boundary only
    assert piped.readers["settlements"] == "psql" and piped.readers["journal"] == "psql"
    assert_same_files(fast, slow)


@pytest.mark.parametrize("amount", ["0.0000001", "1" + "0" * 33])  # 7 places; 34 + 6 digits
def test_a_value_that_cannot_be_exact_fails_the_same_way_and_leaves_no_child(recon, db, factory,
                                                                             tmp_path, amount):
    p = factory.program()["id"]
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN amount TYPE numeric")
    factory.journal(p, [("a", "debit", amount), ("b", "credit", amount)], created_at=IN)
    messages = []
    for piped in (True, False):
        with pytest.raises(ExportError) as err:
            export(recon, tmp_path / str(piped), piped=piped)
        messages.append(str(err.value))
        assert not (tmp_path / str(piped) / PERIOD.label).exists()
    assert messages[0] == messages[1] and "could not be converted exactly" in messages[0]
    assert not [c for c in psutil.Process().children(recursive=True) if "psql" in c.name()]


def test_a_psql_child_killed_mid_stream_fails_the_export_with_its_reason(month, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(stream, "STREAM_BLOCK_BYTES", 4096)
    killed = []

    def kill_once(progress):
        if progress.table == "ledger_entries" and progress.rows and not killed:
            for child in psutil.Process().children(recursive=True):
                if "psql" in child.name():
                    child.kill()
                    killed.append(child.pid)

    exporter = Exporter(month.db, tmp_path)
    with pytest.raises(ExportError, match="reading .*ledger_entries failed: the psql child"):
        exporter.run(PERIOD, force=True, progress=kill_once)
    assert killed and not (tmp_path / PERIOD.label).exists()
    assert not [p.name for p in tmp_path.iterdir()]  # no partial folder either


def test_without_psql_the_export_reads_in_process(month, tmp_path, monkeypatch):
    monkeypatch.setattr(psql_copy, "find_psql", lambda: None)
    exporter, result = export(month, tmp_path, piped=True)
    assert set(exporter.readers.values()) == {"in process"}
    assert result.total_rows > MANY


def test_the_password_goes_to_the_environment_not_the_command_line(db, tmp_path):
    url = db.url + ("&" if "?" in db.url else "?") + "password=s3cr%20t"
    with psycopg.connect(db.url) as conn:
        target, env = psql_copy._target(conn, url, "sge-recon", tmp_path)
    assert "s3cr" not in target and env["PGPASSWORD"] == "s3cr t"
    assert env["PGCLIENTENCODING"] == "UTF8"
    assert psql_copy.find_psql() is not None  # the PostgreSQL wheel ships one


def test_the_export_does_not_load_pandas(cli_env, factory, tmp_path):
    """pyarrow's group-by engine (Acero) and ``Array.to_numpy`` import pandas: ~0.5 s of the
    export's time on a quiet machine, seconds on a busy one. The control totals avoid both."""
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=IN)
    code = ("import sys; from sge_recon.cli import main\n"
            "try:\n    main(['export', '--period', '2025-05', '--out', sys.argv[1], '--force'])\n"
            "except SystemExit as done:\n    assert not done.code, done.code\n"
            "print(sorted(m for m in ('pandas', 'pyarrow.dataset', 'pyarrow.acero') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_an_sslpassword_never_reaches_the_psql_childs_command_line(db_url, factory, tmp_path):
    """The passphrase of the client's TLS key (libpq ``sslpassword``) in DATABASE_URL: the COPY
    child's command line, which every local user reads (ps), carries only ``service=…``; the
    passphrase is in a 0600 service file the child reads, and the export still runs piped."""
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=IN)
    secret = "tls-KEY-passphrase-7c41e9"
    url = db_url + ("&" if "?" in db_url else "?") + f"sslpassword={secret}"
    seen: list[str] = []
    modes: list[int] = []

    def look(progress):
        for child in psutil.Process().children(recursive=True):
            if "psql" in child.name():
                seen.append(" ".join(child.cmdline()))
                service_file = child.environ().get("PGSERVICEFILE")
                if service_file:  # read when psql connected, then removed: a kill leaves none
                    modes.append(os.path.exists(service_file))

    exporter = Exporter(Recon(settings_for(url)).db, tmp_path / "out", piped=True)
    exporter.run(PERIOD, force=True, progress=look)
    assert set(exporter.readers.values()) == {"psql"}, exporter.readers
    assert seen and not [line for line in seen if secret in line], seen
    assert all("service=" in line for line in seen) and set(modes) == {False}, (seen, modes)
