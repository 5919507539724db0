"""DESIGN §11: nothing outside the profile layer names a platform relation directly. Product SQL
writes `platform.<contract table>`; only the contract profile's own validation may write `public.`
(the stand-ins that create and fill the reference platform's tables live outside the product, in
refplatform/, and so does the bench tooling, recon_bench/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "sge_recon/db/schema.py",          # the contract profile: validates public's §4 tables
}
PUBLIC = re.compile(r"\bpublic\.(?!public_bytes|verify)[A-Za-z_\"]")


def test_no_public_schema_in_checks_or_library_code():
    offenders = []
    for path in [*ROOT.glob("checks/*.sql"), *ROOT.glob("checks/*.yml"),
                 *ROOT.glob("sge_recon/**/*.py"), *ROOT.glob("app/**/*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PUBLIC.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
