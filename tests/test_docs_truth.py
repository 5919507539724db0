"""The README and the CLI tell the truth (audit docs): what a user types as the README and
`--help` show it does what they say, and a mistake is one `Error: …` line with exit 3, never a
silent success."""

from __future__ import annotations

from datetime import datetime, timezone

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


def test_users_add_replace_changes_a_role_as_the_readme_says(cli_env, db_url):
    """README: "a new password (`users set-password`, or `users add --replace`) … end every
    session of that account … nobody gets the new role of a replaced account through a page left
    open". `--replace` did not exist ("No such option"), so no command could change a role."""
    from sge_recon.accounts import AccountService

    def add(*args):
        import subprocess
        import sys
        return subprocess.run([sys.executable, "-m", "sge_recon", "users", "add", *args],
                              input="Pw0rdS3cret-new\n", capture_output=True, text=True,
                              env=cli_env, timeout=60)

    created = add("ada", "--role", "operator")
    assert created.returncode == 0, created.stderr
    accounts = AccountService(Database(db_url))
    token = accounts.start_session("ada")
    assert accounts.resume(token) is not None
    again = add("ada", "--role", "admin")
    assert_error_line(again, "add --replace to give it this role")
    replaced = add("ada", "--role", "admin", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.startswith("Replaced ada (admin)"), replaced.stdout
    assert accounts.get("ada").role == "admin"
    assert accounts.resume(token) is None  # the operator's open session ended
    logged = Database(db_url).fetch_one(
        "SELECT count(*) AS n FROM recon.action_log WHERE action = 'add_account' "
        "AND target = 'account:ada' AND request->>'replace' = 'true'")
    assert logged["n"] == 1


def test_a_malformed_manifest_sha256_is_a_user_mistake_not_a_pass_or_tampering(
        cli_env, factory, tmp_path):
    """`export verify DIR --manifest-sha256 ""` (an unset shell variable) verified without the
    pin and exited 0; a typo ('zz', a truncated copy) exited 1 "the manifest differs from the one
    recorded at export", i.e. tampering. Both are a user mistake: exit 3."""
    import json
    from datetime import datetime, timezone

    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.25"), ("user:a", "credit", "10.25")],
                    created_at=datetime(2025, 3, 10, 12, tzinfo=timezone.utc))
    out = tmp_path / "exports"
    exported = run(["export", "--period", "2025-03", "--out", str(out), "--format", "json"],
                   cli_env)
    assert exported.returncode == 0, exported.stderr
    digest = json.loads(exported.stdout)["manifest_sha256"]
    folder = str(out / "2025-03")
    for bad in ("", "zz", digest[:63], digest + "0", "sha256:" + digest):
        result = run(["export", "verify", folder, "--manifest-sha256", bad], cli_env)
        assert_error_line(result, "--manifest-sha256: ")
        assert "is not a sha256 (64 hexadecimal digits" in result.stderr
        assert result.stdout == ""
    for good in (digest, digest.upper(), f" {digest}\n"):
        ok = run(["export", "verify", folder, "--manifest-sha256", good], cli_env)
        assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout + ok.stderr
    other = "0" * 64
    altered = run(["export", "verify", folder, "--manifest-sha256", other], cli_env)
    assert altered.returncode == 1 and f"expected {other}" in altered.stdout


def test_an_empty_public_key_option_is_refused_not_a_verify_without_signature(
        cli_env, factory, tmp_path):
    """`export verify DIR --public-key "$AUDITOR_KEY"` with the variable unset verified the
    folder WITHOUT the signature and exited 0: an auditor who asked for the origin proof got
    "OK". It is a user mistake: exit 3, nothing verified."""
    from datetime import datetime, timezone

    from sge_recon.exports import ExportService

    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "1.00"), ("user:a", "credit", "1.00")],
                    created_at=datetime(2025, 3, 10, 12, tzinfo=timezone.utc))
    out = tmp_path / "exports"
    assert run(["export", "--period", "2025-03", "--out", str(out)], cli_env).returncode == 0
    folder = out / "2025-03"
    assert ExportService.verify(folder).exit_code == 0  # an intact, unsigned folder
    for empty in ("", "  "):
        result = run(["export", "verify", str(folder), "--public-key", empty], cli_env)
        assert_error_line(result, "--public-key is empty")
        assert result.stdout == ""


def test_the_demo_names_an_account_holding_an_approver_key_before_changing_anything(
        cli_env, db_url, tmp_path):
    """Following the README (`users add bob --role approver --approver-key 1`, then `sge-recon
    demo`), the demo loaded its simulation, created `viewer` and `operator` with passwords it
    never wrote down (demo-accounts.txt unwritten), then stopped on approver1. Now it stops
    first, naming bob and the fix, with nothing loaded or created."""
    import subprocess
    import sys

    added = subprocess.run([sys.executable, "-m", "sge_recon", "users", "add", "bob", "--role",
                            "approver", "--approver-key", "1"], input="Pw0rdS3cret-bob\n",
                           capture_output=True, text=True, env=cli_env, timeout=60)
    assert added.returncode == 0, added.stderr
    result = run(["demo", "--intents", "1000", "--duration", "1", "--api-port", "8746",
                  "--console-port", "8747", "--metrics-port", "8748"], cli_env, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Error: approver key 1 is held by the account 'bob'" in result.stderr
    assert "sge-recon users disable bob" in result.stderr
    db = Database(db_url)
    names = [r["name"] for r in db.fetch_all("SELECT name FROM recon.console_users")]
    assert names == ["bob"]
    assert db.fetch_one("SELECT count(*) AS n FROM settlement_intents")["n"] == 0


def test_export_list_of_a_folder_that_does_not_exist_is_an_error(cli_env, tmp_path):
    """`export list --out /srv/audti` (a typo) said "No exported periods in /srv/audti." and
    exited 0: an auditor reads "nothing was exported". A given --out that is not a folder is
    an Error: line; the default folder, not created yet, says so."""
    missing = tmp_path / "audti"
    assert_error_line(run(["export", "list", "--out", str(missing)], cli_env),
                      f"--out: {missing} is not a folder")
    fresh = run(["export", "list"], {**cli_env, "EXPORTS_DIR": str(missing)})
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == f"No exported periods in {missing} (the folder does not exist yet).\n"
    missing.mkdir()
    empty = run(["export", "list", "--out", str(missing)], cli_env)
    assert empty.returncode == 0 and empty.stdout == f"No exported periods in {missing}.\n"


def test_export_list_says_what_the_checks_said_at_export(cli_env, factory, recon, tmp_path):
    """`export list` (and the console's Exports table) showed "checks: stored" for every export,
    hiding that ledger_balance was failing when it was taken, and never said an export was
    preliminary (a month not over, --force)."""
    from datetime import datetime, timezone

    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.00"), ("user:a", "credit", "9.00")],
                    created_at=datetime(2025, 3, 10, 12, tzinfo=timezone.utc))
    out = tmp_path / "exports"
    assert run(["export", "--period", "2025-03", "--out", str(out)], cli_env).returncode == 0
    recon.checks.run(only=["ledger_balance", "transaction_balance", "ledger_tamper"])
    now = datetime.now(timezone.utc).strftime("%Y-%m")
    for args in (["--period", "2025-04"], ["--period", now, "--force"]):
        exported = run(["export", *args, "--out", str(out)], cli_env)
        assert exported.returncode == 0, exported.stderr
    listed = run(["export", "list", "--out", str(out)], cli_env)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "checks at export: none stored" in lines["2025-03"]
    assert lines["2025-04"].endswith(
        "checks at export: fail: ledger_balance, transaction_balance"), lines["2025-04"]
    assert lines[now].endswith("PRELIMINARY (month not over when exported)"), lines[now]
    assert "stored" not in lines["2025-04"]


def test_a_profile_whose_views_were_never_made_says_run_db_init(cli_env, db_url):
    """README: run `db init` again "after … editing the profile: a check run … refuses to start
    and says so (exit 3)". Switching PLATFORM_PROFILE without `db init` made every check `error`
    on 'relation "recon_platform.ledger_entries" does not exist' (and stored that run), with no
    word of db init. Now the run refuses to start, naming the profile and the command."""
    result = run(["check"], {**cli_env, "PLATFORM_PROFILE": "sge"})
    assert_error_line(result, "PLATFORM_PROFILE is sge, but ")
    assert "no views for it in recon_platform" in result.stderr
    assert "run `sge-recon db init`" in result.stderr
    assert result.stdout == ""
    assert Database(db_url).fetch_one("SELECT count(*) AS n FROM recon.check_runs")["n"] == 0
    contract = run(["check", "--only", "ledger_balance"], cli_env)
    assert contract.returncode == 0, contract.stdout + contract.stderr


def test_scheduler_once_exits_3_when_a_job_failed(cli_env, tmp_path):
    """`scheduler --once` ("run what is due now … and exit", for cron) exited 0 although the
    monthly export it ran had failed: the supervisor never saw it. Now the failed line goes to
    standard error and the command exits 3.

    The scheduler's clock reads the 1st of this month at 03:10 UTC: the monthly export is due
    only until the 28th at 03:00 (its 27-day grace), and this test failed from then to the end
    of the month when it ran at the real time."""
    import subprocess
    import sys

    first = datetime.now(timezone.utc).replace(day=1, hour=3, minute=10, second=0, microsecond=0)
    at_the_first = ("import sys; from datetime import datetime; "
                    "from sge_recon.scheduling import clock; "
                    "clock.DatabaseClock.now = lambda self: "
                    f"datetime.fromisoformat({first.isoformat()!r}); "
                    "from sge_recon.cli import main; main(sys.argv[1:])")
    result = subprocess.run(
        [sys.executable, "-c", at_the_first, "scheduler", "--once", "--no-metrics"],
        env={**cli_env, "EXPORTS_DIR": "/proc/sge-recon-nope", "DAILY_CHECK_ENGINE": "sql"},
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "monitor " in result.stdout and ": succeeded" in result.stdout
    assert "monthly_audit_export " in result.stderr and ": failed (" in result.stderr
    assert "EXPORTS_DIR: cannot create the export folder /proc/sge-recon-nope" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        "Error: 1 scheduled job(s) did not succeed (monthly_audit_export)")


def test_check_from_another_folder_says_which_embedded_database_it_opened():
    """Without DATABASE_URL, SGE_RECON_HOME (`.sge-recon`) is relative to the working directory:
    `sge-recon check` run from another folder (cron's $HOME) opens a new, empty embedded
    database there and said only "recon is not set up … run db init" — which would initialise
    that empty one. The error now says which SGE_RECON_HOME it is and how to point at the real
    one."""
    import os
    import subprocess
    import sys

    import shutil
    import tempfile
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    elsewhere = Path(tempfile.mkdtemp(prefix="sgr-", dir="/tmp"))  # a unix socket path is short
    try:
        result = subprocess.run([sys.executable, "-m", "sge_recon", "check", "--no-store"],
                                capture_output=True, text=True, env=env, cwd=elsewhere,
                                timeout=120)
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)
    assert_error_line(result, "sge-recon's own schema (recon) is not set up in ")
    assert (f"this is the embedded PostgreSQL of SGE_RECON_HOME {elsewhere / '.sge-recon'}, "
            "which is relative to the working directory") in result.stderr
    assert "set SGE_RECON_HOME or DATABASE_URL" in result.stderr


def test_the_scheduler_refuses_a_signing_key_it_cannot_sign_with_at_start(cli_env, tmp_path):
    """README: "Values are validated at start". The scheduler started with an EXPORT_SIGNING_KEY
    that is not an Ed25519 private key and would only fail at 03:00 on the 1st, leaving the
    month unexported. It now stops at start with the setting's Error: line."""
    import subprocess
    import sys

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp_path / "wrong-kind.pem"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "scheduler", "--no-metrics"],
                            env={**cli_env, "EXPORT_SIGNING_KEY_FILE": str(key)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the scheduler started with an unusable signing key: {out}{err}") from None
    assert proc.returncode == 3, out + err
    assert err == ("Error: EXPORT_SIGNING_KEY: must be an Ed25519 key; create one with "
                   "`sge-recon export keygen FILE`\n"), err
    assert "Scheduler running" not in out


def test_debug_after_the_command_shows_the_traceback_as_the_error_line_invites(cli_env):
    """An unexpected error says "run it again with --debug"; appending it (`sge-recon check …
    --debug`) gave "No such option '--debug'" instead of the traceback. --debug is taken
    anywhere on the line (before a `--`)."""
    result = run(["check", "--only", "no_such_check", "--debug"], cli_env)
    assert result.returncode == 3, result.stderr
    assert "No such option" not in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: unknown check(s) no_such_")


def test_the_table_shows_worker_status_as_a_word_like_the_json(recon, factory):
    """`sge-recon check` printed "FAIL worker_status … value 2" (a status code nobody can read)
    where `--format json` says "down", as the README documents."""
    from datetime import datetime, timedelta, timezone

    from sge_recon.checks.render import run_json, run_table

    factory.heartbeat("worker-1", last_seen_at=datetime.now(timezone.utc) - timedelta(hours=1))
    run = recon.checks.run(only=["worker_status"], store=False)
    line = next(x for x in run_table(run).splitlines() if "worker_status" in x)
    assert "value down" in line and "value 2" not in line, line
    assert '"value": "down"' in run_json(run)
