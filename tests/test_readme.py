"""Docs as tests: the README documents every setting and every command, and CI runs its test
command."""

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
