"""Files given by mistake that never end, or never open (audit "small", first contact).

`--config /dev/zero`, a secret `*_FILE` or `--public-key` pointing at a device, and a password
piped from /dev/zero were read whole: memory ran out ("unexpected MemoryError", after eating the
machine's memory); a named pipe without a writer as --public-key or --config blocked for ever.
Each is an `Error: …` line now, at once. The children run under a 2 GB address-space limit, so a
regression fails here instead of exhausting the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from .test_config_mistakes import assert_error_line

LIMIT = 2 << 30


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(args, env=None, stdin=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SGE_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=60, stdin=stdin,
                          preexec_fn=_limited)


def test_an_endless_config_file_is_an_error_line(tmp_path):
    home = {"SGE_RECON_HOME": str(tmp_path / "home")}
    assert_error_line(run(["--config", "/dev/zero", "check", "--list"], home),
                      "--config: config file /dev/zero is larger than 4,194,304 bytes")


def test_an_endless_secret_file_is_an_error_line(tmp_path):
    env = {"SGE_RECON_HOME": str(tmp_path / "home"), "ADMIN_API_KEY_FILE": "/dev/zero"}
    assert_error_line(run(["check", "--list"], env),
                      "ADMIN_API_KEY_FILE: secret file /dev/zero is larger than 65,536 bytes")


def test_a_public_key_that_never_ends_or_never_opens_is_an_error_line(tmp_path):
    export = tmp_path / "2026-01"
    export.mkdir()
    assert_error_line(run(["export", "verify", str(export), "--public-key", "/dev/zero"]),
                      "the public key /dev/zero is larger than 65,536 bytes")
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo)  # a named pipe no one writes to: opening it used to wait for ever
    assert_error_line(run(["export", "verify", str(export), "--public-key", str(fifo)]),
                      "--public-key: the file is not a PEM public key")


def test_a_password_from_dev_zero_is_an_error_line(cli_env):
    with open("/dev/zero", "rb") as zero:
        result = run(["users", "add", "zed", "--role", "viewer"], cli_env, stdin=zero)
    assert_error_line(result, "the password on standard input is longer than 1,024 characters")
