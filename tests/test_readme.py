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
    assert commands == ["python3 dev.py test"]  # exactly the README's command, nothing cleverer


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
