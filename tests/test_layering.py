"""The house rules of CONTRIBUTING.md, enforced on the source: drivers only in the data-access
layer (the product's sge_recon/db/, and the stand-in's and the bench tooling's own stores),
Streamlit only under app/, the product's library never imports the console pages, and the product
never imports the reference platform (refplatform/) nor the bench tooling (recon_bench/). The
import contracts of pyproject.toml (tests/test_import_contracts.py) check the same through
import-linter, with the layers; this AST scan also sees app/'s top-level imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("sge_recon", "app", "jobs")
SOURCES = [p for folder in (*PRODUCT, "refplatform", "recon_bench")
           for p in (ROOT / folder).rglob("*.py")]

# The stand-in's and the bench tooling's own data access (they are not the product).
STAND_IN_STORES = ("refplatform/store/", "refplatform/sge_store.py")
BENCH_STORES = ("recon_bench/store/",)
# top-level module -> the folders allowed to import it
RULES = {
    "streamlit": ("app/",),
    "psycopg": ("sge_recon/db/", *STAND_IN_STORES, *BENCH_STORES),
    "psycopg_pool": ("sge_recon/db/", *STAND_IN_STORES),
    # the stand-in runs the SGE platform's own BullMQ workers (refplatform/sge_queues.py)
    "redis": ("sge_recon/db/", "refplatform/sge_queues.py"),
    "bullmq": ("sge_recon/db/", "refplatform/sge_queues.py"),
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


def test_the_product_never_imports_the_stand_in_nor_the_bench_tooling():
    offenders = []
    for folder in PRODUCT:
        for path in (ROOT / folder).rglob("*.py"):
            for module in imported_modules(path):
                if module.split(".")[0] in ("refplatform", "recon_bench"):
                    offenders.append(f"{path.relative_to(ROOT).as_posix()} imports {module}")
    assert not offenders, "\n".join(sorted(offenders))
