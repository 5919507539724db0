"""Setting up the reference platform's database: its DDL (``refplatform/sql/platform/``, DESIGN §4
plus the stand-in's own tables) created where absent, inside the product's ``db init`` transaction.

The product's ``sge-recon db init`` never creates platform tables; the demo, the tests, ``simulate``
and ``sge-recon db init --reference-platform`` ask for them through :func:`setup_database`.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


def ddl_files() -> list[Path]:
    """The reference platform's DDL files, in order (idempotent: CREATE … IF NOT EXISTS)."""
    return sorted((SQL_DIR / "platform").glob("*.sql"))


def setup_database(recon):
    """Create the reference platform's tables where absent and run the product's ``db init``
    (one transaction: a platform table of the wrong shape stops it before any change). ``recon`` is
    a :class:`sge_recon.context.Recon`; returns its InitReport."""
    return recon.init_db(platform_ddl=ddl_files())
