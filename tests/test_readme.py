"""Docs as tests: the README documents every setting and every command, and CI runs its test
command."""

import re
from pathlib import Path

from sge_recon.cli import COMMANDS
from sge_recon.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    for item in Settings.describe():
        assert f"| `{item['name']}` |" in README, item["name"]


def test_every_command_is_documented():
    for name in COMMANDS:
        assert f"sge-recon {name}" in README, name


def test_ci_runs_the_readme_test_command():
    assert "python3 dev.py test" in README
    assert "python3 dev.py demo" in README
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines()
                if line.strip() and not line.startswith(("#", "set "))]
    # exactly the README's command, nothing cleverer, in the checkout the script is in
    assert commands == [CI_CD, "python3 dev.py test"]


CI_CD = 'cd "$(dirname "${BASH_SOURCE[0]}")/.."'


def test_ci_runs_from_any_folder(tmp_path):
    """`.ci/run` said `python3 dev.py test` in whatever folder it was started: from anywhere but
    the checkout's root it failed ("can't open file 'dev.py'"). The real script, in a checkout
    (with a space in its path) whose dev.py records where and how it runs, started elsewhere."""
    import shutil
    import subprocess

    checkout = tmp_path / "a checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    (checkout / "dev.py").write_text(
        "import os, sys\n"
        "open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ran'), 'a').write(\n"
        "    os.getcwd() + ' ' + ' '.join(sys.argv[1:]) + '\\n')\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for how in ([str(checkout / ".ci" / "run")], ["../a checkout/.ci/run"]):
        result = subprocess.run(["bash", *how], cwd=elsewhere, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
    assert (checkout / "ran").read_text() == f"{checkout} test\n" * 2


def _readme_default(value) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def test_every_setting_row_gives_its_real_default_and_secrecy():
    """The settings table is what an operator configures from: each row's default is the typed
    settings object's, and a secret is marked *Secret.* (audit docs)."""
    rows = {}
    for line in README.splitlines():
        if line.startswith("| `") and line.count("|") >= 4:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0].strip("`"), cells)
    for item in Settings.describe():
        name, cells = item["name"], rows[item["name"]]
        if item["default"] == "":
            assert cells[1].startswith("("), (name, cells[1])  # e.g. "(project checks/)"
        else:
            assert cells[1] == _readme_default(item["default"]), (name, cells[1])
        assert ("*Secret.*" in cells[2]) == item["secret"], name


def test_the_audit_views_the_readme_lists_are_the_ones_written():
    from sge_recon.db.audit_db import AUDIT_VIEW_NAMES

    section = README.split("## For auditors", 1)[1].split("manifest.json", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section.split("views over those files:", 1)[1]))
    assert listed == set(AUDIT_VIEW_NAMES)
