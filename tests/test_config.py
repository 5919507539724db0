"""Settings: defaults, sources, and errors that name the setting."""

from decimal import Decimal

import pytest

from sge_recon.config import Settings, mask
from sge_recon.config_checks import hide_password
from sge_recon.errors import ConfigError


def test_defaults_match_the_runbook():
    s = Settings.load(env={})
    assert s.DATABASE_URL is None
    assert s.INTENT_TIMEOUT_MINUTES == 10
    assert s.INTENT_STUCK_FAIL_MINUTES == 15
    assert (s.QUEUE_DEPTH_WARN, s.QUEUE_DEPTH_FAIL) == (100, 500)
    assert s.PROCESSING_TIME_FAIL_SECONDS == Decimal("15")
    assert s.LEDGER_TOLERANCE == Decimal("0.01")
    assert s.REFRESH_SECONDS == 30
    assert s.SGE_ADMIN_API_URL == "http://127.0.0.1:8000"
    assert s.PLATFORM_READ_URL is None and s.REPLICA_MAX_LAG_SECONDS == 60


def test_every_setting_has_help_and_a_default_type():
    for item in Settings.describe():
        assert item["help"].strip(), item["name"]


@pytest.mark.parametrize("env, setting, fragment", [
    ({"INTENT_TIMEOUT_MINUTES": "ten"}, "INTENT_TIMEOUT_MINUTES", "whole number"),
    ({"INTENT_TIMEOUT_MINUTES": "0"}, "INTENT_TIMEOUT_MINUTES", "at least 1"),
    ({"LEDGER_TOLERANCE": "NaN"}, "LEDGER_TOLERANCE", "finite"),
    ({"LEDGER_TOLERANCE": "1e"}, "LEDGER_TOLERANCE", "number"),
    ({"DATABASE_URL": "mysql://h/db"}, "DATABASE_URL", "PostgreSQL URL"),
    ({"DATABASE_URL": "postgresql://h:99999x/db"}, "DATABASE_URL", "port"),
    ({"SGE_ADMIN_API_URL": "localhost:8000"}, "SGE_ADMIN_API_URL", "http(s) URL"),
    ({"QUEUE_DEPTH_WARN": "600"}, "QUEUE_DEPTH_FAIL", "at least QUEUE_DEPTH_WARN"),
    ({"PAYOUT_APPROVER_1": "same", "PAYOUT_APPROVER_2": "same"}, "PAYOUT_APPROVER_2", "differ"),
    ({"ADMIN_API_KEY_FILE": "/nonexistent/key"}, "ADMIN_API_KEY_FILE", "cannot read"),
    ({"DATABASE_URL": "postgresql://p/db", "PLATFORM_READ_URL": "mysql://h/db"},
     "PLATFORM_READ_URL", "PostgreSQL URL"),
    ({"PLATFORM_READ_URL": "postgresql://standby/db"}, "PLATFORM_READ_URL", "needs DATABASE_URL"),
    ({"REPLICA_MAX_LAG_SECONDS": "0"}, "REPLICA_MAX_LAG_SECONDS", "at least 1"),
])
def test_bad_values_name_the_setting(env, setting, fragment):
    with pytest.raises(ConfigError) as exc:
        Settings.load(env=env)
    assert str(exc.value).startswith(f"{setting}: ")
    assert fragment in str(exc.value)


def test_file_then_env_then_secret_file(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('intent_timeout_minutes = 12\nqueue_depth_warn = 150\n')
    key = tmp_path / "admin.key"
    key.write_text("s3cret-admin-key\n")
    s = Settings.load(env={"QUEUE_DEPTH_WARN": "120", "ADMIN_API_KEY_FILE": str(key)},
                      config_file=cfg)
    assert s.INTENT_TIMEOUT_MINUTES == 12      # from the file
    assert s.QUEUE_DEPTH_WARN == 120           # the environment wins over the file
    assert s.ADMIN_API_KEY == "s3cret-admin-key"


def test_unknown_key_in_file_is_rejected(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("intent_timeout = 12\n")
    with pytest.raises(ConfigError, match="INTENT_TIMEOUT: unknown setting"):
        Settings.load(env={}, config_file=cfg)


def test_secrets_are_masked():
    s = Settings.load(env={"ADMIN_API_KEY": "super-secret-admin-token",
                           "DATABASE_URL": "postgresql://app:hunter22@db.example:5432/sge"})
    shown = s.masked()
    assert "super-secret-admin-token" not in str(shown)
    assert "hunter22" not in str(shown)
    assert mask("postgresql://app:pw@h/db") == "postgresql://***@h/***"


def test_a_masked_secret_shows_no_character_of_it():
    """`settings --show`, and a receiver's echo scrubbed from a failed alert's text, once showed
    a secret's first and last two characters: 4 of a 12-character CONSOLE_PASSWORD."""
    s = Settings.load(env={"CONSOLE_PASSWORD": "Tr0ub4dor&3x", "ADMIN_API_KEY": "k" * 40,
                           "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"})
    shown = s.masked()
    assert shown["CONSOLE_PASSWORD"] == shown["ADMIN_API_KEY"] == "****"
    assert shown["PAGERDUTY_ROUTING_KEY"] == "****"
    assert mask("/services/T0/B0/slackTOKENvalue42") == "****"


def test_a_developers_config_file_does_not_leak_into_the_tests(tmp_path, monkeypatch):
    """conftest points SGE_RECON_CONFIG at an empty file: a ./sge-recon.toml is not read."""
    from tests.conftest import settings_for

    (tmp_path / "sge-recon.toml").write_text("LEDGER_TOLERANCE = '7'\n")
    monkeypatch.chdir(tmp_path)
    assert settings_for("postgresql://u@h/db").LEDGER_TOLERANCE == Decimal("0.01")
    assert Settings.load().LEDGER_TOLERANCE == Decimal("0.01")


@pytest.mark.parametrize("setting", ["SGE_ADMIN_API_URL", "CONSOLE_URL", "PAGERDUTY_EVENTS_URL",
                                     "OIDC_SERVER_METADATA_URL", "SLACK_WEBHOOK_URL"])
@pytest.mark.parametrize("typed", ["/", "#", "?"])
def test_a_password_typed_with_an_unencoded_character_is_never_echoed(setting, typed):
    """https://user:pa/ss@host — a "/", "#" or "?" in a password not percent-encoded ends the
    URL's authority, so "pa" reads as a port: the refusal quoted the whole URL, password too."""
    password = f"gw{typed}S3cretGatewayPw"
    env = {setting: f"https://gateway:{password}@api.example.com/v1"}
    if setting.startswith("OIDC"):
        env.update(OIDC_CLIENT_ID="console", OIDC_CLIENT_SECRET="client-secret")
    with pytest.raises(ConfigError) as refused:
        Settings.load(env=env)
    shown = str(refused.value)
    assert setting in shown and "S3cret" not in shown and "percent-encoded" in shown, shown
    assert hide_password(f"at https://gateway:{password}@api.example.com/v1 now") == \
        "at https://gateway:***@api.example.com/v1 now"
