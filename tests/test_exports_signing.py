"""Signed manifests: an auditor with the public key proves the manifest is the one we wrote."""

from __future__ import annotations

import json
import subprocess
import sys

from sge_recon.context import Recon
from sge_recon.exports import ExportService
from sge_recon.exports.signing import SIGNATURE

from .conftest import settings_for
from .test_exports_cli import PERIOD, small_month


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_signed_export_verifies_and_any_manifest_edit_breaks_the_signature(
        cli_env, db_url, factory, tmp_path):
    small_month(factory)
    period = PERIOD
    key = tmp_path / "signing.pem"
    made = cli(cli_env, "export", "keygen", str(key))
    assert made.returncode == 0, made.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = cli(cli_env, "export", "keygen", str(key))
    assert again.returncode == 3 and "already exists" in again.stderr

    env = {**cli_env, "EXPORT_SIGNING_KEY_FILE": str(key), "EXPORTS_DIR": str(tmp_path / "out")}
    public = cli(env, "export", "public-key")
    assert public.returncode == 0 and public.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in public.stdout + public.stderr
    pub = tmp_path / "auditor.pub"
    pub.write_text(public.stdout)

    exported = cli(env, "export", "--period", period)
    assert exported.returncode == 0, exported.stderr
    folder = tmp_path / "out" / period   # EXPORTS_DIR is honoured
    sig = json.loads((folder / SIGNATURE).read_text())
    assert sig["algorithm"] == "ed25519" and sig["signs"] == "manifest.json"

    ok = cli(env, "export", "verify", str(folder), "--public-key", str(pub))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "the manifest's signature is valid" in ok.stdout
    unchecked = cli(env, "export", "verify", str(folder))
    assert unchecked.returncode == 0 and "signature not checked" in unchecked.stdout

    # A descriptive field the hashes do not cover: only the signature catches this edit.
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["generated_at"] = "2020-01-01T00:00:00+00:00"
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    bad = cli(env, "export", "verify", str(folder), "--public-key", str(pub))
    assert bad.returncode == 1
    assert "manifest.sig: does not match manifest.json" in bad.stdout


def test_wrong_key_missing_signature_and_unsigned_exports(db_url, factory, tmp_path):
    from sge_recon.exports.signing import generate_private_key_pem, public_key_pem

    small_month(factory)
    period = PERIOD
    ours, theirs = generate_private_key_pem(), generate_private_key_pem()
    recon = Recon(settings_for(db_url, EXPORT_SIGNING_KEY=ours))
    folder = recon.exports.export(period, out_dir=tmp_path / "signed").directory
    assert ExportService.verify(folder, public_key=public_key_pem(ours)).ok
    wrong = ExportService.verify(folder, public_key=public_key_pem(theirs))
    assert [m.file for m in wrong.mismatches] == [SIGNATURE]
    (folder / SIGNATURE).unlink()
    missing = ExportService.verify(folder, public_key=public_key_pem(ours))
    assert "is missing" in str(missing.mismatches[0])

    unsigned = Recon(settings_for(db_url)).exports.export(period, out_dir=tmp_path / "plain")
    report = ExportService.verify(unsigned.directory)
    assert report.ok and not report.signed
    assert not (unsigned.directory / SIGNATURE).exists()


def test_a_key_that_is_not_ed25519_is_a_setting_error(db_url, factory, tmp_path):
    import pytest

    from sge_recon.errors import ConfigError

    small_month(factory)
    period = PERIOD
    recon = Recon(settings_for(db_url, EXPORT_SIGNING_KEY="not a key"))
    with pytest.raises(ConfigError, match="EXPORT_SIGNING_KEY: is not a PEM private key"):
        recon.exports.export(period, out_dir=tmp_path / "x")
    assert not (tmp_path / "x" / period).exists()
