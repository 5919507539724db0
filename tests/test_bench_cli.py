"""``sge-recon bench`` end to end at a small size: one run prints the table and writes the JSON
with the floors, the product figures, their ratios and the targets."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def _bench(env, *args):
    return subprocess.run([sys.executable, "-m", "sge_recon", "bench", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_bench_prints_and_writes_every_figure(cli_env, tmp_path):
    out = tmp_path / "bench.json"
    done = _bench(cli_env, "--entries", "20000", "--no-gx", "--json", str(out))
    assert done.returncode == 0, done.stderr
    figures = {f["name"]: f for f in json.loads(out.read_text())["figures"]}
    names = list(figures)
    assert names[0].startswith("floor: per-program balance")
    for name in ("full SQL suite", "per-minute fast suite (incremental)",
                 "console Overview data load"):
        assert figures[name]["floor"] == "balance" and figures[name]["ratio"] > 0
        assert figures[name]["ok"] in (True, False) and figures[name]["target"]
        assert name in done.stdout
    one = figures["full SQL suite on one session"]  # what CHECK_SESSIONS=2 saves, measured
    assert one["value"] > 0 and "ran on 2 sessions" in one["note"]
    assert any(n.startswith("floor: raw COPY binary") for n in names)
    export = next(f for n, f in figures.items() if n.startswith("export of") and "RSS" not in n)
    assert export["unit"] == "rows/s" and export["floor"] == "COPY" and export["value"] > 0
    assert "figures written to" in done.stdout

    # a database holding another size is not replaced without --reset
    again = _bench(cli_env, "--entries", "200000", "--no-gx", "--json", str(out))
    assert again.returncode == 3
    assert "Error:" in again.stderr and "--reset" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_profile_bench_times_each_check_through_the_sge_profile_and_on_contract_tables(
        new_database, tmp_path):
    import os

    url = new_database(empty=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, SGE_RECON_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "sge_recon", "profile-bench", "--entries",
                           "10000", "--repeat", "1"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    for check in ("ledger_balance", "transaction_balance", "ledger_tamper", "commission_ledger"):
        assert check in lines and lines[check].count(" s") == 2 and "x" in lines[check]
    assert "target ≤ 1.2" in lines["suite"]
    # ledger_tamper was timed over reconciled history, not over an empty checkpoint
    below = re.search(r"; ([\d,]+) entries below the checkpoint's watermark", done.stdout)
    assert below and int(below.group(1).replace(",", "")) > 5000, done.stdout
    assert "per-minute run on SGE (incremental" in done.stdout and "ERRORS" not in done.stdout
    assert "unavailable on SGE: " in done.stdout and "queue_depth" in done.stdout
