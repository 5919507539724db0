"""`sge-recon export verify` exit codes (DESIGN §8), crafted manifests, `export public-key` in the
demo's layout, and the standard key fingerprint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from sge_recon.context import Recon
from sge_recon.errors import ExportError
from sge_recon.exports import ExportService
from sge_recon.exports.signing import DEMO_KEY_FILE, fingerprint, generate_private_key_pem, \
    public_key_pem

from .conftest import settings_for
from .test_exports_cli import IN, PERIOD, small_month


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def folders(db_url, factory, tmp_path):
    """An intact export of balanced books, and one of books with an unbalanced transaction."""
    small_month(factory)
    recon = Recon(settings_for(db_url))
    good = recon.exports.export(PERIOD, out_dir=tmp_path / "good").directory
    p = factory.program()["id"]
    factory.journal(p, [("treasury", "debit", "10.00"), ("user:b", "credit", "9.99")],
                    created_at=IN)
    run = factory.check_run(started_at=IN, status="fail")["run_id"]
    factory.check_result(run, "transaction_balance", status="fail", failing_rows=1)
    unbalanced = recon.exports.export(PERIOD, out_dir=tmp_path / "books").directory
    return good, unbalanced


def test_exit_codes_0_1_2_3(cli_env, folders, tmp_path):
    good, unbalanced = folders
    ok = cli(cli_env, "export", "verify", str(good))
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout + ok.stderr

    findings = cli(cli_env, "export", "verify", str(unbalanced))
    assert findings.returncode == 2, findings.stdout + findings.stderr
    assert findings.stdout.startswith("INTACT, WITH ACCOUNTING FINDINGS: ")
    assert "does not balance: debits 10.000000, credits 9.990000" in findings.stdout
    as_json = json.loads(cli(cli_env, "export", "verify", str(unbalanced), "--format",
                             "json").stdout)
    assert (as_json["intact"], as_json["ok"], as_json["exit_code"]) == (True, False, 2)

    altered = tmp_path / "altered"
    shutil.copytree(good, altered)
    (altered / "README.txt").write_text("edited")
    bad = cli(cli_env, "export", "verify", str(altered))
    assert bad.returncode == 1 and "README.txt: " in bad.stdout

    for target in (tmp_path / "missing", tmp_path):
        gone = cli(cli_env, "export", "verify", str(target))
        assert gone.returncode == 3 and gone.stderr.startswith("Error: ")
        assert "Traceback" not in gone.stderr
    crafted = tmp_path / "crafted"
    shutil.copytree(good, crafted)
    manifest = json.loads((crafted / "manifest.json").read_text())
    manifest["control_totals"] = 7
    (crafted / "manifest.json").write_text(json.dumps(manifest))
    odd = cli(cli_env, "export", "verify", str(crafted))
    assert odd.returncode == 3 and "is malformed" in odd.stderr and "Traceback" not in odd.stderr


CRAFTED = [5, "x", None, [], {}, [1], [{"name": 5}], [{"name": "manifest.json"}],
           {"program_id": []}, [{"program_id": [], "currency": {}}], -1, 1e308, True]


def test_a_crafted_manifest_is_reported_or_refused_never_a_crash(folders, tmp_path):
    good, _ = folders
    original = json.loads((good / "manifest.json").read_text())
    for key in sorted(original):
        for value in CRAFTED:
            folder = tmp_path / "c"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(good, folder)
            (folder / "manifest.json").write_text(json.dumps({**original, key: value}))
            try:
                report = ExportService.verify(folder)
            except ExportError:
                continue  # exit 3: could not be verified
            assert report.exit_code in (0, 1, 2), (key, value)


def test_public_key_finds_the_demo_key_and_prints_the_standard_fingerprint(cli_env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    missing = cli({**cli_env, "SGE_RECON_HOME": str(home)}, "export", "public-key")
    assert missing.returncode == 3 and "EXPORT_SIGNING_KEY_FILE" in missing.stderr
    (home / DEMO_KEY_FILE).write_text(generate_private_key_pem())
    out = cli({**cli_env, "SGE_RECON_HOME": str(home)}, "export", "public-key")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "the demo's signing key" in out.stderr
    pub = tmp_path / "demo.pub"
    pub.write_text(out.stdout)
    # the same fingerprint as openssl: SHA256 of the raw 32-byte key, base64 without padding
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    import base64
    import hashlib

    expected = "SHA256:" + base64.b64encode(hashlib.sha256(der[-32:]).digest()).decode().rstrip("=")
    assert f"# fingerprint {expected}" in out.stderr
    assert fingerprint(out.stdout) == expected and len(der) == 44


def test_the_signature_file_names_the_standard_fingerprint(db_url, factory, tmp_path):
    small_month(factory)
    key = generate_private_key_pem()
    folder = Recon(settings_for(db_url, EXPORT_SIGNING_KEY=key)).exports.export(
        PERIOD, out_dir=tmp_path).directory
    sig = json.loads((folder / "manifest.sig").read_text())
    assert sig["public_key_fingerprint"] == fingerprint(public_key_pem(key))
    assert sig["public_key_fingerprint"].startswith("SHA256:")
