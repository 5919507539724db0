"""User mistakes in the settings and the files they name (audit E): each is `Error: <what>: …`
naming the setting (or --config) with exit 3, never a traceback, and never a password."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from sge_recon.config import Settings
from sge_recon.errors import ConfigError

PASSWORD = "Pw0rdS3cret"


def run(args, env=None, timeout=60):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=timeout)


def assert_error_line(result, fragment, secret=PASSWORD):
    out = result.stdout + result.stderr
    assert result.returncode == 3, (result.returncode, out)
    assert "Traceback" not in out, out
    assert result.stderr.startswith("Error: ") and fragment in result.stderr, result.stderr
    assert secret not in out, out


# -- the config file (--config, SGE_RECON_CONFIG) -----------------------------------------------
def test_a_config_file_that_cannot_be_read_is_an_error_line(tmp_path):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe = 1")
    folder = tmp_path / "adir"
    folder.mkdir()
    home = {"SGE_RECON_HOME": str(tmp_path / "home")}
    assert_error_line(run(["--config", str(binary), "settings", "--show"], home),
                      f"--config: {binary} is not UTF-8 text")
    assert_error_line(run(["settings", "--show"], {**home, "SGE_RECON_CONFIG": str(folder)}),
                      f"SGE_RECON_CONFIG: {folder} is a folder, not a config file")
    assert_error_line(run(["settings", "--show"], {**home, "SGE_RECON_CONFIG": str(binary)}),
                      "SGE_RECON_CONFIG: ")


def test_config_errors_name_the_option_the_user_gave(tmp_path):
    """--config is named as --config, not as the SGE_RECON_CONFIG variable nobody set."""
    missing = tmp_path / "nonexistent.toml"
    result = run(["--config", str(missing), "settings", "--show"],
                 {"SGE_RECON_HOME": str(tmp_path / "home")})
    assert_error_line(result, f"Error: --config: config file {missing} does not exist")
    assert "SGE_RECON_CONFIG" not in result.stderr


@pytest.mark.parametrize("line, kind", [("sge_environment = {a=1}", "table"),
                                        ('slack_webhook_url = ["https://x"]', "list")])
def test_a_toml_table_or_list_for_a_setting_is_refused(tmp_path, line, kind):
    config = tmp_path / "c.toml"
    config.write_text(line + "\n")
    name = line.split()[0].upper()
    with pytest.raises(ConfigError, match=f"^{name}: in .* must be a single value, not a TOML "
                                          f"{kind}"):
        Settings.load(env={}, config_file=config)


def test_a_setting_given_twice_in_one_toml_file_in_two_cases_is_refused(tmp_path):
    """TOML keys are case-sensitive, the settings are not: the file's two values must not be
    settled silently by which one the parser happened to put last."""
    config = tmp_path / "c.toml"
    config.write_text("queue_depth_warn = 10\nQUEUE_DEPTH_WARN = 999\n")
    with pytest.raises(ConfigError, match=r"^QUEUE_DEPTH_WARN: is given twice in .*c\.toml .*"
                                          r"keep one of them"):
        Settings.load(env={}, config_file=config)


def test_settings_show_names_an_empty_default_and_the_checks_folder_in_effect(tmp_path):
    result = run(["settings", "--show"], {"SGE_RECON_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("CHECKS_DIR "))
    assert line.startswith("CHECKS_DIR (default: (empty)) = (empty) → "), line
    assert line.endswith("/checks") and os.path.isfile(line.split(" → ")[1] + "/checks.yml"), line


# -- secret files (<NAME>_FILE) -------------------------------------------------------------------
def test_an_empty_secret_file_variable_is_refused_not_read_as_unset(tmp_path):
    """`EXPORT_SIGNING_KEY_FILE=` (a template's blank variable) used to mean "unset": exports went
    out unsigned, and an empty DATABASE_URL_FILE silently meant the embedded database."""
    for name in ("EXPORT_SIGNING_KEY", "DATABASE_URL"):
        with pytest.raises(ConfigError, match=rf"^{name}_FILE: is set but empty, so it names no "
                                              rf"file; point it at the file that holds {name}"):
            Settings.load(env={f"{name}_FILE": ""})
    result = run(["export", "public-key"], {"EXPORT_SIGNING_KEY_FILE": "",
                                            "SGE_RECON_HOME": str(tmp_path / "home")})
    assert_error_line(result, "Error: EXPORT_SIGNING_KEY_FILE: is set but empty")
    # the value itself, when given, still wins over an empty *_FILE
    assert Settings.load(env={"ADMIN_API_KEY": "k" * 32, "ADMIN_API_KEY_FILE": ""}
                         ).ADMIN_API_KEY == "k" * 32


def test_a_secret_file_that_is_not_text_or_is_empty_is_named(tmp_path):
    binary, empty = tmp_path / "bin.txt", tmp_path / "empty.pem"
    binary.write_bytes(b"\xff\xfe")
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"^ADMIN_API_KEY_FILE: secret file .* is not UTF-8"):
        Settings.load(env={"ADMIN_API_KEY_FILE": str(binary)})
    with pytest.raises(ConfigError, match=r"^DATABASE_URL_FILE: secret file .* is empty"):
        Settings.load(env={"DATABASE_URL_FILE": str(empty)})  # not: the embedded server
    result = run(["export", "public-key"], {"EXPORT_SIGNING_KEY_FILE": str(empty),
                                            "SGE_RECON_HOME": str(tmp_path / "home")})
    assert_error_line(result, f"EXPORT_SIGNING_KEY_FILE: secret file {empty} is empty")
    assert "not configured" not in result.stderr
    assert_error_line(run(["settings", "--show"], {"ADMIN_API_KEY_FILE": str(binary),
                                                   "SGE_RECON_HOME": str(tmp_path / "home")}),
                      "ADMIN_API_KEY_FILE: ")


# -- URLs: malformed ones are named, passwords are never shown --------------------------------------
def test_a_malformed_ipv6_database_url_is_named_without_its_password(tmp_path):
    result = run(["check"], {"DATABASE_URL": f"postgresql://a:{PASSWORD}@[::1:17432/x",
                             "SGE_RECON_HOME": str(tmp_path)})
    assert_error_line(result, "Error: DATABASE_URL: is malformed")


def test_a_bad_percent_escape_in_the_password_is_named_and_not_printed(tmp_path):
    url = "postgresql://admin:Pw0rd%ZZS3cret@127.0.0.1:9/recon"
    for args in (["check"], ["users", "list"]):
        result = run(args, {"DATABASE_URL": url, "SGE_RECON_HOME": str(tmp_path)})
        assert_error_line(result, "Error: DATABASE_URL: has a % that does not start",
                          secret="S3cret")


def test_an_unknown_url_option_is_an_error_line_without_the_password(tmp_path):
    """libpq refuses the URL itself (psycopg.ProgrammingError): no traceback, no password."""
    result = run(["check"], {"DATABASE_URL": f"postgresql://admin:{PASSWORD}@127.0.0.1:9/recon"
                                             "?bogusparam=1", "SGE_RECON_HOME": str(tmp_path)})
    assert_error_line(result, "Error: DATABASE_URL: not a usable PostgreSQL URL (invalid URI "
                              'query parameter: "bogusparam")')


def test_the_driver_error_never_quotes_the_password():
    from sge_recon.db import Database
    from sge_recon.errors import DatabaseUnavailable

    # a URL the settings would refuse, given to the data layer directly: still redacted
    with pytest.raises(DatabaseUnavailable) as caught:
        Database("postgresql://admin:Pw0rd%ZZS3cret@127.0.0.1:9/recon",
                 setting="PLATFORM_READ_URL").connect()
    assert caught.value.message.startswith("PLATFORM_READ_URL: ")
    assert "S3cret" not in caught.value.message and "Pw0rd" not in caught.value.message


URL_SETTINGS = ("SGE_ADMIN_API_URL", "CONSOLE_URL", "PAGERDUTY_EVENTS_URL")


@pytest.mark.parametrize("name", URL_SETTINGS)
def test_credentials_in_a_url_setting_are_masked_wherever_shown(tmp_path, name):
    url = f"https://gw:{PASSWORD}@api.example"
    shown = Settings.load(env={name: url}).masked()[name]
    assert shown == "https://gw:***@api.example"
    home = {"SGE_RECON_HOME": str(tmp_path)}
    result = run(["settings", "--show"], {**home, name: url})
    assert result.returncode == 0 and PASSWORD not in result.stdout + result.stderr
    assert f"{name} (default" in result.stdout and "gw:***@api.example" in result.stdout
    assert_error_line(run(["settings", "--show"], {**home, name: f"ftp://gw:{PASSWORD}@x"}),
                      f"Error: {name}: must be an http(s) URL")


def test_the_admin_clients_and_the_console_banner_hide_the_password(cli_env):
    from sge_recon.admin_client import AdminClient
    from sge_recon.sge_admin_client import SgeAdminClient

    url = f"http://gw:{PASSWORD}@127.0.0.1:9"
    for client in (AdminClient(url), SgeAdminClient(url, operator="ops")):
        result = client.health()
        assert not result.ok and "gw:***@127.0.0.1:9" in result.error
        assert PASSWORD not in result.error
        client.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "console", "--port", str(port)],
                            env={**cli_env, "SGE_ADMIN_API_URL": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert banner.startswith("Console on ") and "admin API http://gw:***@127.0.0.1:9" in banner
    assert PASSWORD not in banner


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- values PostgreSQL or the checks' SQL would refuse later -------------------------------------
@pytest.mark.parametrize("value", ["9999999999TB", "1kB", "63", "2TB", "2097152MB"])
def test_check_work_mem_out_of_postgres_range_is_refused_naming_it(value):
    with pytest.raises(ConfigError, match=r"^CHECK_WORK_MEM: must be from 64kB to 2147483647kB"):
        Settings.load(env={"CHECK_WORK_MEM": value})


@pytest.mark.parametrize("value", ["64kB", "64", "2147483647kB", "1TB", "server", "96MB"])
def test_check_work_mem_within_range_loads(value):
    assert Settings.load(env={"CHECK_WORK_MEM": value}).CHECK_WORK_MEM == value


def test_check_work_mem_is_refused_at_start_not_as_a_connection_failure(tmp_path):
    result = run(["check", "--only", "ledger_balance"],
                 {"CHECK_WORK_MEM": "9999999999TB", "SGE_RECON_HOME": str(tmp_path),
                  "DATABASE_URL": "postgresql://a@127.0.0.1:9/x"})
    assert_error_line(result, "Error: CHECK_WORK_MEM: must be from 64kB")
    assert "cannot connect" not in result.stderr


DURATIONS = [f.name for f in fields(Settings) if f.name.endswith(("_SECONDS", "_MINUTES", "_HOURS"))]


@pytest.mark.parametrize("name", DURATIONS)
def test_every_duration_setting_has_a_maximum_that_names_it(name):
    field = next(f for f in fields(Settings) if f.name == name)
    maximum = field.metadata["maximum"]
    assert maximum is not None, f"{name} needs a maximum"
    huge = "99999999999999999999"
    with pytest.raises(ConfigError, match=f"^{name}: must be at most {maximum}"):
        Settings.load(env={name: huge})
    env = {name: str(maximum)}
    if name == "INTENT_TIMEOUT_MINUTES":
        env["INTENT_STUCK_FAIL_MINUTES"] = str(maximum)
    if name == "PROCESSING_TIME_WARN_SECONDS":
        env["PROCESSING_TIME_FAIL_SECONDS"] = str(maximum)
    Settings.load(env=env)  # the maximum itself is fine


def test_a_huge_threshold_is_refused_before_the_check_sql_runs(tmp_path):
    result = run(["check", "--only", "payout_batch_sla"],
                 {"PAYOUT_SLA_HOURS": "99999999999999", "SGE_RECON_HOME": str(tmp_path),
                  "DATABASE_URL": "postgresql://a@127.0.0.1:9/x"})
    assert_error_line(result, "Error: PAYOUT_SLA_HOURS: must be at most 8760 (one year)")
