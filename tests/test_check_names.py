"""Check names the code relies on are constants (sge_recon/check_names.py) validated against
the catalogue: renaming a check in checks.yml without the code fails here, not silently."""

from __future__ import annotations

import ast
from pathlib import Path

from sge_recon import check_names as names
from sge_recon.checks.loader import load_catalogue
from sge_recon.checks.params import check_params
from sge_recon.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def catalogue_names() -> set[str]:
    return {d.name for d in load_catalogue(ROOT / "checks", check_params(Settings.load(env={})))}


def test_every_name_the_code_relies_on_is_in_the_catalogue():
    missing = sorted(names.REFERENCED - catalogue_names())
    assert not missing, f"checks/checks.yml lacks {missing}, which sge_recon/check_names.py names"


def test_no_check_name_is_written_as_a_string_literal_in_the_product():
    """Outside names.py, the product and the console name a check only through the constants."""
    known = catalogue_names()
    found = []
    for folder in ("sge_recon", "app"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "check_names.py" and path.parent.name == "sge_recon":
                continue
            tree = ast.parse(path.read_text(), str(path))
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                            ast.AsyncFunctionDef))
                          and n.body and isinstance(n.body[0], ast.Expr)
                          and isinstance(n.body[0].value, ast.Constant)}
            # a record's field may coincide with a check's name without naming it (incident
            # details such as "queue_depth": ...); a dict whose keys are all check names is a
            # per-check table, and names them through the constants
            keys = set()
            for n in ast.walk(tree):
                if isinstance(n, ast.Dict):
                    texts = [k.value for k in n.keys
                             if isinstance(k, ast.Constant) and isinstance(k.value, str)]
                    if any(t not in known for t in texts):
                        keys |= {id(k) for k in n.keys if k is not None}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and node.value in known and id(node) not in docstrings | keys:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, "check names as literals (use sge_recon.check_names):\n" + "\n".join(found)
