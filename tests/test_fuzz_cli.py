"""Malformed arguments and configuration values across the commands: each one must end in an
`Error: …` line and a non-zero exit, never a traceback, and never touch the database.

Run in-process through `sge_recon.cli.main` (the real entry point, the same code path as the
console script) so that a table of ~40 mistakes costs seconds; an unexpected exception escapes
`main` and fails the test instead of being printed."""

from __future__ import annotations

import pytest

from sge_recon.cli import main
from sge_recon.db import Database

from .invariants import INVARIANT_FIGURES

ARGUMENTS = [
    (["check", "--only", "no_such_check"], "unknown check"),
    (["check", "--only", ""], "--only names no check"),
    (["check", "--only", " , "], "--only names no check"),
    (["check", "--engine", "spark"], "Invalid value for '--engine'"),
    (["check", "--format", "xml"], "Invalid value for '--format'"),
    (["check", "--rebase-checkpoint"], "requires an argument"),
    (["export", "--period", "2026-13"], "Error:"),
    (["export", "--period", "yesterday"], "Error:"),
    (["export", "--period", "2026-1"], "Error:"),
    (["export", "--period", "1999-01-01"], "Error:"),
    (["export", "--period", "9999-12"], "Error:"),
    (["export"], "Error:"),
    (["export", "verify", "/nonexistent/sgr-export"], "Error:"),
    (["export", "verify", "--manifest-sha256", "zz", "/nonexistent/sgr-export"], "Error:"),
    (["simulate", "--intents", "-5"], "Error:"),
    (["simulate", "--intents", "lots"], "Invalid value for '--intents'"),
    (["simulate", "--faults", "gremlins"], "Error:"),
    (["simulate", "--as-of", "the day after"], "Error:"),
    (["api", "--port", "70000"], "Invalid value for '--port'"),
    (["api", "--pool-size", "0"], "Invalid value for '--pool-size'"),
    (["worker", "--poll-interval", "0"], "Invalid value for '--poll-interval'"),
    (["worker", "--max-jobs", "0"], "Invalid value for '--max-jobs'"),
    # 20,000 characters: PostgreSQL refused the worker's connection ("is PostgreSQL running?")
    (["worker", "--worker-id", "w" * 20_000], "--worker-id must be 1 to 64 printable"),
    (["worker", "--worker-id", "a\tb"], "--worker-id must be 1 to 64 printable"),
    (["scheduler", "--metrics-port", "-1"], "Invalid value for '--metrics-port'"),
    (["scheduler", "--cache-seconds", "-3"], "Invalid value for '--cache-seconds'"),
    (["console", "--port", "http"], "Invalid value for '--port'"),
    (["traffic", "--rate", "-1"], "Invalid value for '--rate'"),
    (["traffic", "--fault-rate", "2"], "Invalid value for '--fault-rate'"),
    (["demo", "--api-port", "0"], "Invalid value for '--api-port'"),
    (["db", "init", "now"], "Error:"),
    (["db", "migrate-everything"], "No such command"),
    (["nonsense"], "No such command"),
    (["check", "--colour"], "No such option"),
    (["--config", "/nonexistent/sge-recon.toml", "check"], "Error:"),
]

SETTINGS = [
    ({"INTENT_TIMEOUT_MINUTES": "soon"}, "INTENT_TIMEOUT_MINUTES"),
    ({"INTENT_TIMEOUT_MINUTES": "-5"}, "INTENT_TIMEOUT_MINUTES"),
    ({"QUEUE_DEPTH_WARN": "600", "QUEUE_DEPTH_FAIL": "500"}, "QUEUE_DEPTH"),
    ({"LEDGER_TOLERANCE": "a cent"}, "LEDGER_TOLERANCE"),
    ({"LEDGER_TOLERANCE": "NaN"}, "LEDGER_TOLERANCE"),
    ({"SAMPLE_ROWS": "0"}, "SAMPLE_ROWS"),
    ({"PROCESSING_TIME_WARN_SECONDS": "1e999999"}, "PROCESSING_TIME_WARN_SECONDS"),
    ({"SGE_ADMIN_API_URL": "not a url"}, "SGE_ADMIN_API_URL"),
    ({"SLACK_WEBHOOK_URL": "ftp://hooks.example/x"}, "SLACK_WEBHOOK_URL"),
    ({"DATABASE_URL": "mysql://localhost/sge"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgres//nohost"}, "DATABASE_URL"),
    # bytes of another encoding, as the environment hands them over (surrogateescape): it was
    # 'unexpected UnicodeEncodeError' (a bug line)
    ({"DATABASE_URL": "postgresql://127.0.0.1:1/sge\udcff"}, "DATABASE_URL: is not UTF-8 text"),
]


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys, module_db_url):
    """Run `sge-recon <argv>` in-process with a clean environment; returns (code, stdout, stderr)."""
    import os

    for name in list(os.environ):
        if name.startswith(("SGE_", "DATABASE_URL", "ADMIN_API_KEY", "PAYOUT_APPROVER",
                            "SLACK_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", module_db_url)
    monkeypatch.setenv("SGE_RECON_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def run(argv, env=None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exited:
            main(argv)
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


def assert_clean_error(code, out, err, fragment):
    assert code not in (0, None), (code, out, err)
    assert "Traceback" not in out + err
    assert "Error:" in err, err
    assert fragment in err, err
    INVARIANT_FIGURES["malformed CLI inputs refused cleanly"] += 1


@pytest.mark.parametrize("argv,fragment", ARGUMENTS, ids=[" ".join(a)[:40] for a, _ in ARGUMENTS])
def test_malformed_arguments_are_error_lines(cli, module_db_url, argv, fragment):
    code, out, err = cli(argv)
    assert_clean_error(code, out, err, fragment)
    # nothing was recorded (one database for the module: no mistake so far wrote anything)
    db = Database(module_db_url)
    for table in ("check_runs", "export_runs", "action_log", "job_runs"):
        assert db.fetch_one(f"SELECT count(*) AS n FROM recon.{table}")["n"] == 0, table


@pytest.mark.parametrize("env,fragment", SETTINGS, ids=[",".join(e) for e, _ in SETTINGS])
@pytest.mark.parametrize("command", [["check", "--no-store"], ["db", "init"]])
def test_malformed_settings_are_error_lines_naming_the_setting(cli, env, fragment, command):
    code, out, err = cli(command, env)
    assert_clean_error(code, out, err, fragment)


def test_a_missing_checks_folder_is_an_error_line(cli):
    code, out, err = cli(["check", "--no-store"], {"CHECKS_DIR": "/nonexistent/checks"})
    assert_clean_error(code, out, err, "/nonexistent/checks")


@pytest.mark.parametrize("content,fragment", [
    ("INTENT_TIMEOUT_MINUTES = [", "Error:"),
    ("NO_SUCH_SETTING = 1", "NO_SUCH_SETTING"),
    ("SAMPLE_ROWS = 'many'", "SAMPLE_ROWS"),
    ("\x00\x01binary", "Error:"),
    # TOML's \u0000 escape: 'unexpected ValueError: embedded null byte' (a bug line), or taken
    ('EXPORTS_DIR = "/tmp/a\\u0000b"', "EXPORTS_DIR: holds a NUL character"),
    ('CHECKS_DIR = "/tmp/a\\u0000b"', "CHECKS_DIR: holds a NUL character"),
    ('PLATFORM_PROFILE = "sg\\u0000e"', "PLATFORM_PROFILE: holds a NUL character"),
    ('SGE_ENVIRONMENT = "prod\\u0000"', "holds a NUL character"),
])
def test_a_malformed_config_file_is_an_error_line(cli, tmp_path, content, fragment):
    path = tmp_path / "sge-recon.toml"
    path.write_text(content)
    code, out, err = cli(["--config", str(path), "check", "--no-store"])
    assert_clean_error(code, out, err, fragment)


def test_a_megabytes_long_value_is_not_echoed_whole(cli, tmp_path):
    """A megabyte-long value in the config file (a pasted blob, a runaway generator) was quoted
    whole in the error line: a megabyte on the terminal and in the scheduler's log. The line is
    cut in the middle and keeps what is wrong and how to fix it."""
    path = tmp_path / "sge-recon.toml"
    path.write_text('SGE_ADMIN_API_URL = "' + "x" * 1_000_000 + '"\n')
    code, out, err = cli(["--config", str(path), "check", "--no-store"])
    assert_clean_error(code, out, err, "Error: SGE_ADMIN_API_URL: must be an http(s) URL")
    assert len(err) < 2200, len(err)
    assert "characters not shown" in err and err.rstrip().endswith("'")
