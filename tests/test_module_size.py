"""No module over ~500 lines (issue 12): a module that grows past it is split by what it does
(as refplatform.store and sge_recon.db.console were). Covers the product (sge_recon/, app/,
jobs/), the reference platform and the bench tooling; tests are not covered."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("sge_recon", "app", "jobs", "refplatform", "recon_bench")
MAX_LINES = 500
# path -> why it may be longer (none today; an entry needs a reason and an issue to split it)
EXCEPTIONS: dict[str, str] = {}


def test_no_module_over_500_lines():
    too_long = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES and rel not in EXCEPTIONS:
                too_long.append(f"{rel}: {lines} lines")
    assert not too_long, "split these modules by what they do:\n" + "\n".join(too_long)


def test_every_exception_is_still_needed():
    for rel in EXCEPTIONS:
        path = ROOT / rel
        assert path.exists() and len(path.read_text().splitlines()) > MAX_LINES, (
            f"{rel} is gone or short enough now: drop it from EXCEPTIONS")
