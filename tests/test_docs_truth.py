"""The README and the CLI tell the truth (audit docs): what a user types as the README and
`--help` show it does what they say, and a mistake is one `Error: …` line with exit 3, never a
silent success."""

from __future__ import annotations

from sge_recon.db import Database

from .test_config_mistakes import assert_error_line, run


def test_fast_with_a_check_outside_the_per_minute_set_is_refused_not_a_pass(cli_env, db_url):
    """`check --fast --only ledger_tamper` ran no check and exited 0 ("Overall: PASS (no
    checks)"): a cron job watching it never alerts. It is a user mistake: exit 3, nothing
    recorded."""
    result = run(["check", "--fast", "--only", "ledger_tamper"], cli_env)
    assert_error_line(result, "ledger_tamper is not one of them")
    assert "drop --fast" in result.stderr
    mixed = run(["check", "--fast", "--only", "ledger_balance,payout_batch_sla"], cli_env)
    assert_error_line(mixed, "payout_batch_sla is not one of them")
    assert Database(db_url).fetch_one("SELECT count(*) AS n FROM recon.check_runs")["n"] == 0
    fine = run(["check", "--fast", "--only", "ledger_balance", "--format", "json"], cli_env)
    assert fine.returncode == 0, fine.stderr
    assert '"name": "ledger_balance"' in fine.stdout
