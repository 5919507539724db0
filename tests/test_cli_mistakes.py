"""User mistakes at the commands (audit E): a bad SGE_RECON_HOME, profile file, key path or
port is `Error: …` with exit 3 ("could not do its work"), never a traceback; the message names
what to change."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from .test_config_mistakes import assert_error_line, run


def test_an_unusable_sge_recon_home_is_named(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    assert_error_line(run(["db", "url"], {"SGE_RECON_HOME": str(afile)}),
                      f"Error: SGE_RECON_HOME: cannot create the embedded PostgreSQL's folder "
                      f"{afile}/pgdata (Not a directory)")
    assert_error_line(run(["check"], {"SGE_RECON_HOME": "/proc/nope"}),
                      "Error: SGE_RECON_HOME: ")


def test_the_demo_names_an_unusable_sge_recon_home(cli_env, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    result = run(["demo", "--duration", "1", "--api-port", "1", "--console-port", "2",
                  "--metrics-port", "3"],
                 {"SGE_RECON_HOME": str(afile / "home"), "DATABASE_URL": cli_env["DATABASE_URL"]})
    assert_error_line(result, "Error: SGE_RECON_HOME: cannot create the folder")


def test_keygen_into_a_missing_folder_is_an_error_line(tmp_path):
    target = tmp_path / "nonexistent" / "key.pem"
    assert_error_line(run(["export", "keygen", str(target)]),
                      f"Error: cannot create {target} (No such file or directory)")


def test_rebase_before_db_init_says_run_db_init(new_database, tmp_path):
    result = run(["check", "--rebase-checkpoint", "investigated"],
                 {"DATABASE_URL": new_database(empty=True), "SGE_RECON_HOME": str(tmp_path)})
    assert_error_line(result, "run `sge-recon db init`")


def test_a_profile_file_that_is_not_text_is_named(cli_env, tmp_path):
    profile = tmp_path / "binprof.yml"
    profile.write_bytes(b"\xff\xfe: 1\n")
    result = run(["check"], {**cli_env, "PLATFORM_PROFILE": str(profile)})
    assert_error_line(result, f"Error: PLATFORM_PROFILE: the profile file {profile} is not "
                              "UTF-8 text")


def _taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


def test_the_console_on_a_taken_port_exits_3(tmp_path):
    sock, port = _taken_port()
    with sock:
        result = run(["console", "--port", str(port)], {"SGE_RECON_HOME": str(tmp_path)})
    assert_error_line(result, f"Error: port {port} on 127.0.0.1 is in use; stop what uses it or "
                              "choose another with --port")


# -- export verify --public-key: a file that is not the public key cannot verify (3), it does not
#    prove the export altered (1)
def _keys(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from sge_recon.exports.signing import generate_private_key_pem

    rsa_pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    files = {
        "private": generate_private_key_pem(),
        "garbage": "hello\n",
        "rsa": rsa_pub.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    }
    for name, text in files.items():
        (tmp_path / f"{name}.pem").write_text(text)
    (tmp_path / "binary.pem").write_bytes(b"\xff\xfe\x00")
    return files


@pytest.mark.parametrize("name, fragment", [
    ("private", "holds a private key, not a public key"), ("garbage", "is not a PEM public key"),
    ("rsa", "is not an Ed25519 key"), ("binary", "is not a PEM public key")])
def test_verify_with_a_file_that_is_not_the_public_key_exits_3(tmp_path, name, fragment):
    _keys(tmp_path)
    folder = tmp_path / "exp" / "2026-09"
    folder.mkdir(parents=True)
    result = run(["export", "verify", str(folder), "--public-key", str(tmp_path / f"{name}.pem")])
    assert_error_line(result, f"Error: --public-key: the file {fragment}")
    assert "could not be verified" in result.stderr and "FAILED" not in result.stdout


def test_check_signature_raises_for_a_key_that_is_not_a_public_key(tmp_path):
    from sge_recon.errors import ExportError
    from sge_recon.exports.signing import check_signature

    keys = _keys(tmp_path)
    with pytest.raises(ExportError) as caught:
        check_signature(tmp_path, keys["private"])
    assert caught.value.exit_code == 3


# -- the scheduler and the exports ----------------------------------------------------------------
def test_the_scheduler_banner_names_every_configured_channel(cli_env):
    env = {**cli_env, "PAGERDUTY_ROUTING_KEY": "R0uting-key-0123456789",
           "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook", "ALERT_WEBHOOK_SECRET": "s3cret-hook",
           "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/slack"}
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "scheduler", "--no-metrics"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert "alerts to Slack, PagerDuty, the webhook (ALERT_WEBHOOK_URL)." in banner, banner


def test_the_scheduler_banner_lists_every_channel_setting_when_none_is_set():
    from sge_recon.cli.scheduler_cmd import _channels_text
    from sge_recon.config import Settings

    assert _channels_text(Settings.load(env={})) == (
        "no channel (set SLACK_WEBHOOK_URL, DISCORD_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, "
        "ALERT_WEBHOOK_URL)")
    pager = Settings.load(env={"PAGERDUTY_ROUTING_KEY": "R0uting-key-0123456789"})
    assert _channels_text(pager) == "PagerDuty"


def test_a_bad_metrics_host_gets_host_advice(cli_env):
    result = run(["scheduler", "--metrics-port", "0", "--metrics-host", "999.1.1.1"], cli_env)
    assert_error_line(result, "--metrics-host must be an address of this machine")
    assert "--metrics-port" not in result.stderr
    sock, port = _taken_port()
    with sock:
        result = run(["scheduler", "--metrics-port", str(port)], cli_env)
    assert_error_line(result, "choose another port with --metrics-port")


def test_exports_dir_pointing_at_a_file_names_exports_dir(cli_env, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    result = run(["export", "--period", "2026-08"], {**cli_env, "EXPORTS_DIR": str(afile)})
    assert_error_line(result, f"Error: EXPORTS_DIR: {afile} is a file, not a folder; point "
                              "EXPORTS_DIR at a folder")


# -- sge-queues with Redis down, or lost -----------------------------------------------------------
def test_sge_queues_with_redis_down_is_one_error_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    started = time.monotonic()
    result = run(["sge-queues", "--duration", "2"],
                 {"REDIS_URL": f"redis://:Pw0rdS3cret@127.0.0.1:{port}/0",
                  "SGE_RECON_HOME": str(tmp_path)}, timeout=30)
    assert_error_line(result, "Error: REDIS_URL: cannot connect to Redis at")
    assert len(result.stderr.strip().splitlines()) == 1 and time.monotonic() - started < 20


def test_sge_queues_stops_with_an_error_when_redis_goes_away(tmp_path):
    from refplatform.redis_server import PrivateRedis

    redis = PrivateRedis.start(tmp_path / "redis")
    proc = subprocess.Popen([sys.executable, "-m", "sge_recon", "sge-queues", "--rate", "5"],
                            env={**{k: v for k, v in os.environ.items()
                                    if not k.startswith(("SGE_", "DATABASE_URL"))},
                                 "REDIS_URL": redis.url, "SGE_RECON_HOME": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("SGE queue traffic:")
        time.sleep(2)
        redis.close()
        lost = time.monotonic()
        _, stderr = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
        redis.close()
    assert proc.returncode == 3 and time.monotonic() - lost < 30
    assert stderr.startswith("Error: REDIS_URL: lost the connection to Redis"), stderr
    assert "Traceback" not in stderr


def test_sge_queues_refuses_a_redis_holding_a_real_platforms_queues(tmp_path):
    """Audit queues #1: `sge-queues` (and `demo --profile sge` with REDIS_URL set) ran its demo
    workers on whatever Redis REDIS_URL names: on the platform's own Redis they took the real
    intents/payouts jobs and completed them without doing them. A Redis whose queues hold jobs
    the demo did not make, or that a platform worker serves, is now refused and left untouched;
    the demo's own Redis (empty, or marked by an earlier demo run) is still used."""
    import base64

    import redis as redis_py

    from refplatform.redis_server import PrivateRedis

    from .redis_support import BullMQWorld

    server = PrivateRedis.start(tmp_path / "redis")
    world = BullMQWorld(server.url)
    try:
        home = {"SGE_RECON_HOME": str(tmp_path / "home")}
        # the demo's own Redis: used, and used again by a second run (its mark)
        for _ in range(2):
            ok = run(["sge-queues", "--duration", "1.5", "--rate", "5"],
                     {"REDIS_URL": server.url, **home}, timeout=60)
            assert ok.returncode == 0, ok.stderr
        world.call(world.queue("intents").obliterate(force=True))
        world.call(world.queue("payouts").obliterate(force=True))
        world.call(world.queue("reconciler").obliterate(force=True))
        redis_py.Redis.from_url(server.url).delete("bull:sge-recon-demo-traffic")
        # a platform's Redis: a payout job waiting for the platform's worker
        world.add("payouts", "execute-payout", {"payoutId": "po_real"}, jobId="po_real")
        refused = run(["sge-queues", "--duration", "1.5"], {"REDIS_URL": server.url, **home})
        assert_error_line(refused, "already holds a platform's BullMQ queues (payouts: 1 job(s))")
        assert world.call(world.queue("payouts").getJobState("po_real")) == "waiting"
        # no job yet, but the platform's (Node) worker serves the intents queue
        world.obliterate("payouts")
        node = redis_py.Redis.from_url(server.url)
        node.client_setname(f"bull:{base64.b64encode(b'intents').decode()}")
        try:
            refused = run(["sge-queues", "--duration", "1.5"], {"REDIS_URL": server.url, **home})
        finally:
            node.close()
        assert_error_line(refused, "(intents: 1 worker(s) not the demo's)")
    finally:
        world.close()
        server.close()
