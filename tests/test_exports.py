"""Audit exports (DESIGN §8): round trip, manifest, views, tampering, refusal/--force, empty month.

Everything runs against the real embedded PostgreSQL and real files; the exported Parquet is read
back with DuckDB and compared with the database row by row.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import shutil
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from sge_recon.context import Recon
from sge_recon.db.exports import open_audit_db
from sge_recon.errors import ExportError, UsageError
from sge_recon.exports import ExportService
from sge_recon.exports.exporter import ExportExists
from sge_recon.exports.period import Period, parse_period
from sge_recon.exports.tables import TABLES

from .conftest import settings_for
from .factories import PlatformFactory

PERIOD = "2025-03"
IN = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=timezone.utc)
FIRST = datetime(2025, 3, 1, tzinfo=timezone.utc)                       # inclusive bound
BEFORE = FIRST - timedelta(microseconds=1)                                # last instant of Feb
AFTER = datetime(2025, 4, 1, tzinfo=timezone.utc)                         # exclusive bound
HUGE = Decimal("12345678901234567890123456789012.123456")                 # 38 digits


def build_month(f) -> dict:
    """A month of every exported table, plus rows just outside it on both sides."""
    p1 = f.program(currency="USD")["id"]
    p2 = f.program(currency="EUR")["id"]
    aff = f.affiliate(p1)["id"]
    user = f.user(p1)["id"]
    i1 = f.intent(p1, user, created_at=IN, amount=Decimal("10.500000"))["id"]
    i_out = f.intent(p1, user, created_at=BEFORE)["id"]
    f.settlement(i1, p1, confirmed_at=IN, amount=Decimal("10.5"))
    f.settlement(i_out, p1, confirmed_at=AFTER)
    f.chain_tx("0xin", "0xtreasury", Decimal("10.5"), observed_at=FIRST)
    f.chain_tx("0xout", "0xtreasury", Decimal("1"), observed_at=AFTER)
    f.journal(p1, [("treasury", "debit", "10.50"), (f"user:{user}", "credit", "10.50")],
              intent_id=i1, created_at=IN)
    f.journal(p1, [("treasury", "debit", "0.000001"), (f"affiliate:{aff}", "credit", "0.000001")],
              created_at=FIRST)
    f.journal(p1, [("treasury", "debit", HUGE), ("reserve", "credit", HUGE)], created_at=IN)
    f.journal(p2, [("treasury", "debit", "99.99"), ("fees", "credit", "0.99"),
                   ("user:x", "credit", "99.00")], currency="EUR", created_at=IN)
    # one transaction with legs in two currencies: balances per currency
    txn = f.journal(p1, [("fx", "debit", "5"), ("fx2", "credit", "5")], created_at=IN)
    f.journal(p1, [("fx", "debit", "4.6"), ("fx2", "credit", "4.6")], currency="EUR",
              transaction_id=txn, created_at=IN)
    f.journal(p1, [("treasury", "debit", "7"), ("user:y", "credit", "7")], created_at=BEFORE)
    f.journal(p1, [("treasury", "debit", "8"), ("user:y", "credit", "8")], created_at=AFTER)
    f.commission(p1, aff, i1, created_at=IN, amount=Decimal("0.105000"),
                 base_amount=Decimal("10.5"), rate=Decimal("0.01"))
    f.commission(p1, aff, i1, created_at=IN, level=2, status="paid", amount=Decimal("0.05"))
    f.commission(p1, aff, i_out, created_at=AFTER)
    batch = f.payout_batch(p1, created_at=IN, total_amount=Decimal("0.155"))["id"]
    f.payout_batch(p1, created_at=BEFORE)
    f.approval(batch, "approver:one", approved_at=IN)
    f.approval(batch, "approver:two", approved_at=AFTER)
    ep = f.endpoint(p1)["id"]
    f.delivery(ep, created_at=IN, payload={"amount": "10.50", "note": "ünïcode, \"quoted\""},
               last_error='HTTP 500: "bad, gateway"\nretry later', status="retry_scheduled")
    f.delivery(ep, created_at=IN, last_error="")           # empty string, not NULL
    f.delivery(ep, created_at=BEFORE)
    f.admin_audit(at=IN, body={"programId": p1}, message=None)
    f.admin_audit(at=AFTER)
    f.action(at=IN, target=batch, request={"batchId": batch}, status_code=200)
    f.action(at=BEFORE)
    run = f.check_run(started_at=IN, status="warn")["run_id"]
    f.check_result(run, "ledger_balance", created_at=IN)
    f.check_result(run, "processing_time", value=Decimal("3.1234567"), status="pass",
                   created_at=IN)
    old = f.check_run(started_at=BEFORE)["run_id"]
    f.check_result(old, "ledger_balance", created_at=BEFORE)
    f.incident(opened_at=IN, money_at_stake=Decimal("0.01"))
    f.incident(kind="worker_down", opened_at=AFTER, priority="P1")
    for at in (IN, BEFORE):
        f.insert_into("recon", "breaker_overrides", {
            "batch_id": batch, "program_id": p1, "reason": "deadline",
            "requested_by": "root", "requested_at": at, "confirmed_by": "root2",
            "confirmed_at": at})
        f.insert_into("recon", "silences", {
            "kind": "worker_down", "reason": "maintenance", "owner": "ops", "created_by": "ada",
            "created_at": at, "starts_at": at, "ends_at": at + timedelta(hours=1)})
    return {"p1": p1, "p2": p2, "affiliate": aff, "batch": batch}


def db_rows(db, spec) -> list[dict]:
    if spec.fallback and spec.schema == "platform" and db.fetch_one(
            "SELECT to_regclass(%s) AS r", (db.relations.relation(spec.table),))["r"] is None:
        return []  # a relation the source lacks (payout_items here) is exported empty
    if spec.via:
        key, pschema, ptable, pts = spec.via
        where = (f"{key} IN (SELECT {spec.via_parent_key or key} FROM {pschema}.{ptable} "
                 f"WHERE {pts} >= %(s)s AND {pts} < %(e)s)")
    else:
        where = f"{spec.time_column} >= %(s)s AND {spec.time_column} < %(e)s"
    return db.fetch_all(f"SELECT * FROM {spec.qualified} WHERE {where}", {"s": FIRST, "e": AFTER})


def parquet_rows(path: Path) -> list[dict]:
    con = duckdb.connect()
    return con.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table().to_pylist()


ARRAYS = ("only_checks", "incident_ids")


def as_exported(spec, column: str, value):
    """The database value in the form the export promises (json/uuid/arrays as text)."""
    if value is None:
        return None
    if spec.name == "check_results" and column == "value":
        return value.quantize(Decimal("0.000001"))
    if isinstance(value, uuid.UUID):
        return str(value)
    if column in ARRAYS and isinstance(value, list):  # PostgreSQL's text form of an array
        return "{" + ",".join(map(str, value)) + "}"
    return value


def key_of(row: dict):
    for keys in (("id",), ("tx_hash",), ("batch_id", "approver"), ("run_id", "name"), ("run_id",)):
        if all(k in row for k in keys):
            return tuple(str(row[k]) for k in keys)
    raise AssertionError(f"no key in {row}")


@pytest.fixture
def month(factory):
    return build_month(factory)


@pytest.fixture(scope="module")
def shared(module_db_url, tmp_path_factory):
    """One database and one export for the tests that only read or tamper with a copy."""
    recon = Recon(settings_for(module_db_url))
    month = build_month(PlatformFactory(recon.db))
    result = recon.exports.export(PERIOD, out_dir=tmp_path_factory.mktemp("shared") / "exports")
    return recon, month, result


@pytest.fixture
def exported(shared, tmp_path):
    """A private copy of the shared export (same manifest), free to tamper with."""
    _, _, result = shared
    copy = tmp_path / "exports" / PERIOD
    shutil.copytree(result.directory, copy)
    return dataclasses.replace(result, directory=copy)


@pytest.fixture
def shared_month(shared):
    return shared[1]


@pytest.fixture
def shared_db(shared):
    return shared[0].db


# -- round trip ----------------------------------------------------------------------------------
def test_round_trip_every_table_equals_the_database_row_by_row(shared_db, exported):
    db = shared_db
    for spec in TABLES:
        expected = db_rows(db, spec)
        actual = parquet_rows(exported.directory / spec.filename)
        if spec.name == "journal":  # stamped when appended (now), so a back-dated month has
            assert actual == expected == []  # none; tests/test_journal.py exports this month's
            continue
        if spec.name == "payout_items":  # the reference platform keeps no line items (the sge
            assert actual == expected == []  # profile's are compared in test_profile_sge.py)
            continue
        assert len(actual) == len(expected) > 0, spec.name
        by_key = {str(key_of(r)): r for r in actual}
        for row in expected:
            got = by_key[str(key_of(row))]
            assert list(got) == list(row), spec.name
            for column, value in row.items():
                exported_value = got[column]
                if isinstance(value, (dict, list)) and column not in ARRAYS:
                    assert json.loads(exported_value) == value, (spec.name, column)
                    continue
                assert exported_value == as_exported(spec, column, value), (spec.name, column)
                if isinstance(value, Decimal):  # exact to the last place, never float
                    assert isinstance(exported_value, Decimal)
                    assert str(exported_value) == str(as_exported(spec, column, value))


def test_money_is_decimal_and_timestamps_are_utc_in_the_parquet_schema(exported):
    schema = pq.read_schema(exported.directory / "ledger_entries.parquet")
    assert str(schema.field("amount").type) == "decimal128(38, 6)"
    assert str(schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    for name in ("settlement_intents", "commissions", "payout_batches", "incidents"):
        schema = pq.read_schema(exported.directory / f"{name}.parquet")
        for field in schema:
            assert "double" not in str(field.type) and "float" not in str(field.type), field
    # empty string and NULL stay apart; text with quotes, commas and newlines survives
    rows = parquet_rows(exported.directory / "webhook_deliveries.parquet")
    errors = sorted((r["last_error"] for r in rows), key=lambda e: (e is None, e or ""))
    assert errors == ["", 'HTTP 500: "bad, gateway"\nretry later']


def test_manifest_states_source_files_control_totals_and_checks(shared_db, exported,
                                                                 shared_month):
    db, month = shared_db, shared_month
    m = exported.manifest
    assert m["period"] == PERIOD and m["complete_month"] is True
    assert m["range"] == {"from": "2025-03-01T00:00:00+00:00", "to": "2025-04-01T00:00:00+00:00",
                          "note": m["range"]["note"]}
    src = m["source"]
    assert src["server_version"].split(".")[0].isdigit()
    assert ":" in src["snapshot"] and "password" not in json.dumps(src)
    assert "repeatable read" in src["isolation"]
    files = {f["name"]: f for f in m["files"]}
    assert set(files) == {s.filename for s in TABLES} | {"audit.duckdb", "README.txt"}
    assert files["ledger_entries.parquet"]["filtered_on"] == "created_at"
    assert files["settlements.parquet"]["filtered_on"] == "confirmed_at"
    assert files["admin_audit_log.parquet"]["filtered_on"] == "at"
    for f in files.values():
        assert f["bytes"] == (exported.directory / f["name"]).stat().st_size
        assert len(f["sha256"]) == 64
    expected = db.fetch_all(
        "SELECT program_id, currency, sum(amount) FILTER (WHERE type = 'debit') AS debits, "
        "sum(amount) FILTER (WHERE type = 'credit') AS credits, count(*) AS n "
        "FROM ledger_entries WHERE created_at >= %s AND created_at < %s "
        "GROUP BY 1, 2 ORDER BY 1, 2", (FIRST, AFTER))
    assert [(t["program_id"], t["currency"], Decimal(t["debits"]), Decimal(t["credits"]),
             t["entry_count"]) for t in m["control_totals"]] == \
        [(r["program_id"], r["currency"], r["debits"], r["credits"], r["n"]) for r in expected]
    usd = next(t for t in m["control_totals"] if (t["program_id"], t["currency"]) ==
               (month["p1"], "USD"))
    exact = decimal.Context(prec=80).add(HUGE, Decimal("15.500001"))
    assert usd["debits"] == str(exact)  # decimal string, exact beyond Python's default 28 digits
    checks = m["checks_at_export"]
    assert checks["status"] == "stored"
    assert {r["name"]: r["value"] for r in checks["results"]} == {
        "ledger_balance": None, "processing_time": "3.1234567"}
    # recorded in recon.export_runs with the manifest's hash
    run = db.fetch_one("SELECT * FROM recon.export_runs ORDER BY id DESC LIMIT 1")
    assert run["status"] == "succeeded" and run["manifest_sha256"] == exported.manifest_sha256
    assert run["total_rows"] == exported.total_rows


def test_verify_passes_on_a_copy_elsewhere_and_the_views_work_from_another_cwd(
        exported, tmp_path, monkeypatch, shared_month):
    month = shared_month
    copy = tmp_path / "auditor" / "unpacked" / PERIOD
    shutil.copytree(exported.directory, copy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = ExportService.verify(copy)
    assert report.ok, report.mismatches
    assert report.rows_checked == exported.total_rows and report.transactions_unbalanced == 0
    # the library opens audit.duckdb with the folder as search path, from any cwd
    con = open_audit_db(copy, database=str(copy / "audit.duckdb"), read_only=True)
    trial = con.execute("SELECT program_id, currency, total_debits, total_credits, difference, "
                        "entry_count FROM trial_balance").fetchall()
    assert (month["p2"], "EUR", Decimal("99.990000"), Decimal("99.990000"), Decimal("0"), 3) in trial
    assert con.execute("SELECT count(*) FROM unbalanced_transactions").fetchone()[0] == 0
    per_txn = con.execute("SELECT count(*) FROM transaction_balance").fetchone()[0]
    assert per_txn == 6  # five transactions, one of them in two currencies
    aff = con.execute("SELECT commission_count, total_amount, paid_amount FROM "
                      "commissions_by_affiliate WHERE affiliate_id = ?", [month["affiliate"]]
                      ).fetchall()
    assert aff == [(2, Decimal("0.155000"), Decimal("0.050000"))]
    con.close()
    # plain DuckDB, the way the README says: inside the folder
    monkeypatch.chdir(copy)
    plain = duckdb.connect("audit.duckdb", read_only=True)
    assert plain.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 13
    plain.close()
    # opening audit.duckdb does not change a byte of it
    assert ExportService.verify(copy).ok


@pytest.fixture(scope="session")
def duckdb14() -> Path:
    """Python with DuckDB 1.4 LTS, the oldest DuckDB auditors may use (`python3 dev.py duckdb14`
    creates .venv-duckdb14 on first use; `python3 dev.py test` does it up front)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "dev.py"), "duckdb14"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


DUCKDB14_READER = """
import duckdb, json, sys
con = duckdb.connect("audit.duckdb", read_only=True)
rows = con.execute("SELECT program_id, currency, total_debits::VARCHAR, typeof(total_debits), "
                   "entry_count FROM trial_balance ORDER BY 1, 2").fetchall()
n = con.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
print(json.dumps({"version": duckdb.__version__, "trial": rows, "ledger_rows": n}))
"""


def test_audit_duckdb_opens_in_duckdb_1_4_lts(exported, duckdb14, tmp_path, shared_month):
    """DESIGN §8: the auditors' DuckDB (1.4 LTS and newer) opens audit.duckdb, decimals exact."""
    import subprocess

    copy = tmp_path / PERIOD
    shutil.copytree(exported.directory, copy)
    result = subprocess.run([str(duckdb14), "-c", DUCKDB14_READER], cwd=copy,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"].startswith("1.4.") and out["ledger_rows"] == 13
    trial = {(r[0], r[1]): r for r in out["trial"]}
    eur = trial[(shared_month["p2"], "EUR")]
    assert eur[2:] == ["99.990000", "DECIMAL(38,6)", 3]
    usd = trial[(shared_month["p1"], "USD")]
    assert Decimal(usd[2]) == decimal.Context(prec=80).add(HUGE, Decimal("15.500001"))
    assert ExportService.verify(copy).ok  # reading it changed nothing


# -- tampering -----------------------------------------------------------------------------------
def _problems(folder) -> str:
    report = ExportService.verify(folder)
    assert not report.intact and report.exit_code == 1  # altered or inconsistent
    return "\n".join(map(str, report.mismatches + report.findings))


def test_a_flipped_byte_in_any_file_is_named(exported):
    for name in ("ledger_entries.parquet", "incidents.parquet", "audit.duckdb", "README.txt"):
        path = exported.directory / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        assert f"{name}: sha256 is" in _problems(exported.directory)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    assert ExportService.verify(exported.directory).ok


def test_an_edited_control_total_or_row_count_in_the_manifest_is_named(exported, shared_month):
    month = shared_month
    path = exported.directory / "manifest.json"
    original = path.read_text()
    m = json.loads(original)
    eur = next(t for t in m["control_totals"] if t["currency"] == "EUR" and
               t["program_id"] == month["p2"])
    eur["credits"] = "99.980000"
    path.write_text(json.dumps(m))
    problems = _problems(exported.directory)
    assert f"control totals of program {month['p2']} / EUR: credits stated 99.980000" in problems
    m = json.loads(original)
    next(f for f in m["files"] if f["name"] == "commissions.parquet")["rows"] = 3
    path.write_text(json.dumps(m))
    assert "commissions.parquet: holds 2 rows, the manifest says 3" in _problems(exported.directory)
    path.write_text("{not json")
    with pytest.raises(ExportError, match="not valid JSON"):
        ExportService.verify(exported.directory)


def test_a_deleted_or_added_file_is_named(exported):
    (exported.directory / "payout_approvals.parquet").unlink()
    (exported.directory / "extra.csv").write_text("x")
    problems = _problems(exported.directory)
    assert "payout_approvals.parquet: is missing from the folder" in problems
    assert "extra.csv: is in the folder but not in the manifest" in problems
    (exported.directory / "manifest.json").unlink()
    with pytest.raises(ExportError, match="manifest.json does not exist"):
        ExportService.verify(exported.directory)


def test_a_rewritten_ledger_with_fixed_up_hashes_is_caught_by_the_totals(exported):
    """A careful forger who rewrites the Parquet and updates its hash still breaks the sums."""
    import pyarrow as pa

    folder = exported.directory
    table = pq.read_table(folder / "ledger_entries.parquet")
    amounts = table.column("amount").to_pylist()
    amounts[0] = amounts[0] + Decimal("0.01")
    forged = table.set_column(table.schema.get_field_index("amount"), table.schema.field("amount"),
                              pa.array(amounts, type=pa.decimal128(38, 6)))
    pq.write_table(forged, folder / "ledger_entries.parquet")
    m = json.loads((folder / "manifest.json").read_text())
    from sge_recon.exports.manifest import sha256_of
    entry = next(f for f in m["files"] if f["name"] == "ledger_entries.parquet")
    entry["sha256"] = sha256_of(folder / "ledger_entries.parquet")
    entry["bytes"] = (folder / "ledger_entries.parquet").stat().st_size
    (folder / "manifest.json").write_text(json.dumps(m))
    problems = _problems(folder)
    assert "ledger_entries.parquet: transaction" in problems and "does not balance" in problems
    assert "debits stated" in problems or "credits stated" in problems


def test_rows_outside_the_period_are_named(exported):
    folder = exported.directory
    table = pq.read_table(folder / "incidents.parquet")
    moved = table.to_pylist()
    moved[0]["opened_at"] = AFTER
    pq.write_table(type(table).from_pylist(moved, schema=table.schema), folder / "incidents.parquet")
    m = json.loads((folder / "manifest.json").read_text())
    from sge_recon.exports.manifest import sha256_of
    entry = next(f for f in m["files"] if f["name"] == "incidents.parquet")
    entry["sha256"] = sha256_of(folder / "incidents.parquet")
    entry["bytes"] = (folder / "incidents.parquet").stat().st_size
    (folder / "manifest.json").write_text(json.dumps(m))
    assert "incidents.parquet: 1 rows have opened_at outside 2025-03" in _problems(folder)


def test_expected_manifest_hash(exported):
    assert ExportService.verify(exported.directory,
                                expect_manifest_sha256=exported.manifest_sha256).ok
    report = ExportService.verify(exported.directory, expect_manifest_sha256="0" * 64)
    assert not report.ok and "differs from the one recorded at export" in str(report.mismatches[0])


# -- refusal, --force, periods -------------------------------------------------------------------
def test_reexport_refuses_then_force_keeps_the_earlier_version(recon, month, factory, tmp_path):
    out = tmp_path / "exports"
    first = recon.exports.export(PERIOD, out_dir=out)
    with pytest.raises(ExportExists, match="--force"):
        recon.exports.export(PERIOD, out_dir=out)
    factory.journal(month["p1"], [("treasury", "debit", "1"), ("user:z", "credit", "1")],
                    created_at=IN)
    second = recon.exports.export(PERIOD, out_dir=out, force=True)
    assert second.replaced is not None and second.replaced.name.startswith(f"{PERIOD}.replaced-")
    assert json.loads((second.replaced / "manifest.json").read_text())["generated_at"] == \
        first.manifest["generated_at"]
    assert ExportService.verify(second.replaced).ok and ExportService.verify(second.directory).ok
    rows = {f["name"]: f["rows"] for f in second.manifest["files"]}
    assert rows["ledger_entries.parquet"] == 15
    listed = recon.exports.list_periods(out)
    assert [s.period for s in listed] == [PERIOD] and listed[0].previous_versions == [second.replaced]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("text, message", [
    ("2026-13", "months run from 01 to 12"),
    ("26-01", "not a month in the form YYYY-MM"),
    ("2026-1", "not a month in the form YYYY-MM"),
    ("", "not a month in the form YYYY-MM"),
])
def test_bad_periods_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_period(text)


def test_a_future_month_is_refused_and_the_current_one_is_marked_incomplete(recon, tmp_path):
    now = datetime.now(timezone.utc)
    future = Period.of(now).next()
    with pytest.raises(UsageError, match="is in the future"):
        recon.exports.export(future.label, out_dir=tmp_path)
    assert not (tmp_path / future.label).exists()
    with pytest.raises(ExportError, match="not over yet.*--force"):
        recon.exports.export(Period.of(now).label, out_dir=tmp_path)
    assert not (tmp_path / Period.of(now).label).exists()
    result = recon.exports.export(Period.of(now).label, out_dir=tmp_path, force=True)
    assert result.manifest["complete_month"] is False


def test_period_arithmetic():
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2026, 1).previous() == Period(2025, 12)
    assert Period(2025, 2).end == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert parse_period("2024-02", now=datetime(2024, 2, 1, tzinfo=timezone.utc)).label == "2024-02"


# -- edge cases ----------------------------------------------------------------------------------
def test_an_empty_month_exports_empty_typed_files_and_verifies(recon, factory, tmp_path):
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "1"), ("u", "credit", "1")], created_at=AFTER)
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    assert result.total_rows == 0 and result.manifest["control_totals"] == []
    assert result.manifest["checks_at_export"]["status"] == "none"
    for spec in TABLES:
        assert pq.read_metadata(result.directory / spec.filename).num_rows == 0
    assert str(pq.read_schema(result.directory / "ledger_entries.parquet").field("amount").type) \
        == "decimal128(38, 6)"
    assert ExportService.verify(result.directory).ok
    con = open_audit_db(result.directory, database=str(result.directory / "audit.duckdb"),
                        read_only=True)
    assert con.execute("SELECT count(*) FROM trial_balance").fetchone()[0] == 0


def test_a_source_without_the_admin_audit_log_exports_it_empty_and_says_so(recon, db, month,
                                                                           tmp_path):
    db.execute("DROP TABLE public.admin_audit_log")
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    entry = next(f for f in result.manifest["files"] if f["name"] == "admin_audit_log.parquet")
    assert entry["rows"] == 0 and entry["in_source"] is False
    assert any("public.admin_audit_log does not exist" in n for n in result.manifest["notes"])
    assert "actor" in pq.read_schema(result.directory / "admin_audit_log.parquet").names
    assert ExportService.verify(result.directory).ok


def test_money_with_more_than_six_places_fails_instead_of_rounding(recon, db, factory, tmp_path):
    p = factory.program()["id"]
    db.execute("ALTER TABLE public.ledger_entries ALTER COLUMN amount TYPE numeric")
    factory.journal(p, [("a", "debit", "0.0000001"), ("b", "credit", "0.0000001")], created_at=IN)
    with pytest.raises(ExportError, match="at most 6 decimal places"):
        recon.exports.export(PERIOD, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    failed = db.fetch_one("SELECT status, error FROM recon.export_runs ORDER BY id DESC LIMIT 1")
    assert failed["status"] == "failed" and "6 decimal places" in failed["error"]


def test_the_console_functions_list_files_and_zip(shared, tmp_path):
    recon, _, exported = shared
    out = exported.directory.parent
    files = recon.exports.files(PERIOD, out)
    assert {f["name"] for f in files} >= {"manifest.json", "ledger_entries.parquet"}
    ledger = next(f for f in files if f["name"] == "ledger_entries.parquet")
    assert ledger["rows"] == 13 and ledger["path"].is_file()
    archive = recon.exports.zip_period(PERIOD, out, dest=tmp_path / "p.zip")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == sorted(f"{PERIOD}/{f['name']}" for f in files)
        z.extractall(tmp_path / "unzipped")
    assert ExportService.verify(tmp_path / "unzipped" / PERIOD).ok
    with pytest.raises(UsageError, match="has not been exported"):
        recon.exports.files("2024-01", out)
    assert recon.exports.runs(PERIOD)[0]["manifest_sha256"] == exported.manifest_sha256
    assert "2025-02" in recon.exports.missing_periods("2025-01", out)
    assert PERIOD not in recon.exports.missing_periods("2025-01", out)


def test_a_source_that_was_already_unbalanced_is_told_apart_from_an_altered_file(
        recon, factory, tmp_path):
    p = factory.program()["id"]
    bad = factory.journal(p, [("treasury", "debit", "10.00"), ("user:a", "credit", "9.99")],
                          created_at=IN)
    run = factory.check_run(started_at=IN, status="fail")["run_id"]
    factory.check_result(run, "transaction_balance", status="fail", failing_rows=1)
    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    report = ExportService.verify(result.directory)
    # exported faithfully: intact, with an accounting finding (exit 2), not an alteration
    assert report.intact and not report.ok and report.exit_code == 2
    assert report.transactions_unbalanced == 1 and report.mismatches == []
    assert f"transaction {bad} ({p}, USD) does not balance: debits 10.000000, credits 9.990000, " \
           "difference 0.010000 (the transaction_balance check was already failing" \
           in str(report.findings[0])


def test_an_export_made_before_payout_items_existed_still_verifies(recon, month, tmp_path):
    """Format 3 added payout_items.parquet; an auditor's format-2 export (made by an earlier
    sge-recon, without that file) verifies as it did, and a format-3 one without it does not."""
    from sge_recon.db.audit_db import create_audit_db
    from sge_recon.exports.manifest import MANIFEST, sha256_of
    from sge_recon.exports.tables import TABLES as ALL

    result = recon.exports.export(PERIOD, out_dir=tmp_path)
    folder = result.directory
    (folder / "payout_items.parquet").unlink()
    (folder / "audit.duckdb").unlink()
    create_audit_db(folder, {t.name: t.filename for t in ALL if t.name != "payout_items"})
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "payout_items.parquet"]
    for entry in manifest["files"]:
        if entry["name"] == "audit.duckdb":
            entry.update(sha256=sha256_of(folder / "audit.duckdb"),
                         bytes=(folder / "audit.duckdb").stat().st_size)
    assert manifest["format_version"] == 3
    (folder / MANIFEST).write_text(json.dumps(manifest))
    missing = ExportService.verify(folder)
    assert [(m.file, m.problem) for m in missing.mismatches] == [
        ("manifest.json", "does not list payout_items.parquet (table platform.payout_items)")]
    manifest["format_version"] = 2
    (folder / MANIFEST).write_text(json.dumps(manifest))
    report = ExportService.verify(folder)
    assert report.ok, report.mismatches
