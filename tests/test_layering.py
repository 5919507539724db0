"""The house rules of CONTRIBUTING.md, enforced on the source: drivers only in the data-access
layer, Streamlit only under app/, the product's library never imports the console pages, and
SQL-executing drivers never in pages. (Issue "One house" grows this into import contracts.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("sge_recon", "app", "jobs") for p in (ROOT / folder).rglob("*.py")]

# top-level module -> the folders allowed to import it
RULES = {
    "streamlit": ("app/",),
    "psycopg": ("sge_recon/db/",),
    "psycopg_pool": ("sge_recon/db/",),
    # the stand-in (sge_recon/platform/) runs the platform's own BullMQ workers
    "redis": ("sge_recon/db/", "sge_recon/queues/", "sge_recon/platform/"),
    "bullmq": ("sge_recon/db/", "sge_recon/queues/", "sge_recon/platform/"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_drivers_and_streamlit_only_where_the_house_rules_allow():
    offenders = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        for module in imported_modules(path):
            top = module.split(".")[0]
            allowed = RULES.get(top)
            if allowed and not rel.startswith(allowed):
                offenders.append(f"{rel} imports {module} (allowed only under "
                                 f"{', '.join(allowed)})")
    assert not offenders, "\n".join(sorted(offenders))


def test_the_library_never_imports_the_console_pages():
    offenders = [p.relative_to(ROOT).as_posix() for p in (ROOT / "sge_recon").rglob("*.py")
                 if any(m.split(".")[0] in ("app", "console_kit", "views")
                        for m in imported_modules(p))]
    assert not offenders, offenders
