"""SQL-vs-Great Expectations parity: same statuses, counts, values and rows on the same data."""

from __future__ import annotations

import json

import pytest

from refplatform.simulate import Simulator
from sge_recon.checks.gx_engine import gx_connection_url
from sge_recon.checks.model import json_row
from sge_recon.context import Recon

from .conftest import settings_for
from .test_checks_runner import BROKEN, WRAPPING, make_catalogue

# Columns that move with the clock between the two runs.
VOLATILE = {"stuck_seconds", "age_hours"}


def comparable(result) -> dict:
    rows = [{k: v for k, v in json_row(r).items() if k not in VOLATILE} for r in result.rows]
    value = None if result.value is None else str(result.value)
    if result.name == "stuck_intents" and result.value is not None:
        value = "moves with the clock"
    return {"status": result.status, "failing_rows": result.failing_rows, "value": value,
            "rows": rows, "error": result.error is not None}


def test_gx_url_keeps_the_socket_and_adds_a_host():
    url = gx_connection_url("postgresql://postgres:@/db1?host=/tmp/sgr-x/pg", 300)
    assert url.startswith("postgresql+psycopg://postgres:@localhost/db1?host=%2Ftmp%2Fsgr-x%2Fpg")
    assert "statement_timeout%3D300000" in url
    assert url.endswith("&connect_timeout=5")  # GX's connects to a frozen server give up
    assert gx_connection_url("postgresql://u:p@db.example:5433/x", 5).startswith(
        "postgresql+psycopg://u:p@db.example:5433/x?options=")


@pytest.mark.parametrize("password", ["pa$sw0rd-x", "pa${HOME}x", "pa%24word"])
def test_a_password_with_a_dollar_reaches_gx_as_it_is(db_url, factory, password):
    """GX reads $NAME / ${NAME} in a connection string as an environment variable to put in:
    a DATABASE_URL password with a "$" failed the whole GX run ("unexpected
    TestConnectionError … config substitution variable"), or sent another password."""
    import warnings
    from urllib.parse import unquote

    from sge_recon.checks.gx_engine import _context

    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "5.00"), ("user:a", "credit", "5.00")])
    # the test server trusts its socket: the password is carried, never checked
    url = db_url.replace("postgresql://postgres:@", f"postgresql://postgres:{password}@")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = _context().data_sources.add_postgres(
            name=f"dollar_{abs(hash(password))}", connection_string=gx_connection_url(url, 30))
        assert source.get_engine().url.password == unquote(password)
    [result] = Recon(settings_for(url)).checks.run(engine="gx", only=["ledger_balance"]).checks
    assert (result.status, result.error) == ("pass", None), result


@pytest.mark.slow
def test_sql_and_gx_agree_on_a_platform_with_faults(db_url):
    recon = Recon(settings_for(db_url))
    Simulator(recon).run(intents=1000, seed=11, reset=True,
                         faults="ledger_imbalance,unbalanced_transaction,stuck_intents,"
                                "webhook_retries,queue_backlog,affiliate_cycle,commission_rate,"
                                "unknown_transfer,worker_slow,slow_processing")
    sql = recon.checks.run(engine="sql")
    gx = recon.checks.run(engine="gx")
    assert [c.name for c in gx.checks] == [c.name for c in sql.checks]
    for s, g in zip(sql.checks, gx.checks):
        assert comparable(g) == comparable(s), s.name
    assert gx.status == sql.status == "fail"
    assert {c.status for c in sql.checks} == {"pass", "warn", "fail", "unavailable"}
    stored = recon.db.fetch_all("SELECT name, engine, details FROM recon.check_results "
                                "WHERE run_id = %s", (gx.run_id,))
    assert {r["engine"] for r in stored} == {"gx"}
    ledger = next(r for r in stored if r["name"] == "ledger_balance")
    expectation = ledger["details"]["expectations"][0]
    assert expectation["expectation_config"]["type"] == "unexpected_rows_expectation"
    assert expectation["result"]["observed_value"] == 1
    json.dumps(ledger["details"])  # stored as JSON


@pytest.mark.slow
def test_gx_handles_odd_sql_and_isolates_broken_checks(tmp_path, db_url):
    make_catalogue(tmp_path, {**WRAPPING, **BROKEN})
    recon = Recon(settings_for(db_url, CHECKS_DIR=tmp_path, SAMPLE_ROWS=3))
    sql = recon.checks.run(engine="sql", store=False).by_name()
    gx = recon.checks.run(engine="gx", store=False).by_name()
    assert {n: (r.status, r.failing_rows) for n, r in gx.items()} == \
        {n: (r.status, r.failing_rows) for n, r in sql.items()}
    assert gx["with_cte_order_semicolon"].rows == sql["with_cte_order_semicolon"].rows
    assert "no_such_table" in gx["missing_table"].error


def test_muting_gx_in_one_thread_never_swallows_another_threads_output(capsys):
    """The nightly GX run mutes its notices in a scheduler thread; `sge-recon scheduler`'s own
    lines, printed meanwhile by the main thread ("Scheduler stopped."), must still appear
    (contextlib.redirect_stdout swapped stdout for the whole process and lost them)."""
    import sys
    import threading

    from sge_recon.checks.mute import stdout_muted

    before = sys.stdout
    inside, release = threading.Event(), threading.Event()

    def gx_like():
        with stdout_muted():
            print("a GX notice")
            inside.set()
            release.wait(5)
            with stdout_muted():  # nested, as a lane inside the run
                print("another GX notice")

    thread = threading.Thread(target=gx_like)
    thread.start()
    assert inside.wait(5)
    print("Scheduler stopped.")
    release.set()
    thread.join(5)
    print("after")
    out = capsys.readouterr().out
    assert out == "Scheduler stopped.\nafter\n"
    assert sys.stdout is before  # restored once nobody is muted
