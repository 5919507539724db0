"""The profile's optional `queues:` and `admin_api:` keys (docs/profiles.md) and REDIS_URL:
validated, with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sge_recon.config import Settings
from sge_recon.db.relations import QueueDeclaration
from sge_recon.errors import ConfigError, ProfileError
from sge_recon.profiles import load_profile

SGE_YML = (Path(__file__).resolve().parent.parent / "profiles" / "sge.yml").read_text()
QUEUES = """queues:
  kind: bullmq
  prefix: bull
  settlement_queue: intents
  queues: [intents, payouts, reconciler]
"""


def test_the_sge_profile_declares_bullmq_queues_and_the_sge_admin_api():
    profile = load_profile("sge")
    assert profile.queues == QueueDeclaration(kind="bullmq", settlement_queue="intents",
                                              queues=("intents", "payouts", "reconciler"),
                                              prefix="bull")
    assert profile.admin_api == "sge"
    assert load_profile("contract").queues is None


def test_a_profile_without_the_keys_keeps_the_contracts_sources(tmp_path):
    text = SGE_YML.replace(QUEUES, "").replace("admin_api: sge\n", "")
    path = tmp_path / "p.yml"
    path.write_text(text)
    profile = load_profile(str(path))
    assert profile.queues is None and profile.admin_api == "contract"


@pytest.mark.parametrize("replacement, expected", [
    ("  kind: bullmq\n", "  kind: celery\n", ),
    ("  settlement_queue: intents\n", "  settlement_queue: settle\n"),
    ("  queues: [intents, payouts, reconciler]\n", "  queues: [intents, intents]\n"),
    ("  queues: [intents, payouts, reconciler]\n", "  queues: []\n"),
    ("  prefix: bull\n", "  prefix: bull\n  colour: red\n"),
    ("  settlement_queue: intents\n", ""),
    ("  settlement_queue: intents\n", "  settlement_queue: 'in tents'\n"),
])
def test_malformed_queue_declarations_name_the_line(tmp_path, replacement, expected):
    old, new = replacement, expected
    text = SGE_YML.replace(QUEUES, QUEUES.replace(old, new))
    path = tmp_path / "p.yml"
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    message = caught.value.message
    assert message.startswith(f"{path}: line ")
    assert "queues" in message


def test_an_unknown_admin_api_is_refused_with_its_line(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(SGE_YML.replace("admin_api: sge", "admin_api: stripe"))
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert "admin_api: unknown admin API 'stripe'; use one of contract, sge" in \
        caught.value.message


@pytest.mark.parametrize("url, expected", [
    ("http://redis:6379", "must be a Redis URL"),
    ("redis://:6379/0", "names no host"),
    ("redis://h:port/0", "malformed port"),
    ("redis://h:6379/zero", "database number"),
    ("unix://", "socket's path"),
])
def test_redis_url_is_validated(url, expected):
    with pytest.raises(ConfigError) as caught:
        Settings.load(env={"REDIS_URL": url})
    assert str(caught.value).startswith("REDIS_URL") and expected in str(caught.value)


def test_redis_url_is_a_secret():
    s = Settings.load(env={"REDIS_URL": "rediss://recon:s3cret@redis.sge:6380/0"})
    assert "s3cret" not in s.masked()["REDIS_URL"]
    assert Settings.load(env={"REDIS_URL": "unix:///run/redis.sock"}).REDIS_URL


@pytest.mark.parametrize("url, secret", [
    ("redis://default:1234/Zq9secret@redis.sge:6379/0", "Zq9secret"),
    ("rediss://recon:9/xY7pw?z@redis.sge:6380/0", "xY7pw"),
])
def test_a_redis_url_whose_password_has_a_slash_is_refused_without_showing_it(url, secret):
    """Audit queues #5: a password with an unencoded '/' (base64 passwords have them) after a
    run of digits parses as host:port plus a path, and the refusal quoted that path: the rest
    of the password, on stderr and in logs. It now says to percent-encode, quoting nothing."""
    with pytest.raises(ConfigError) as caught:
        Settings.load(env={"REDIS_URL": url})
    assert secret not in str(caught.value)
    assert "database number" in str(caught.value) and "%2F" in str(caught.value)
