"""Setting up the reference platform's database: the product's ``db init`` creates DESIGN §4's
tables where absent (``sql/contract/``); the stand-in's own tables beside them (its admin audit log,
webhook attempts, ledger corrections, reconcile runs: ``refplatform/sql/platform/``) are created in
the same transaction when asked — by the demo, the tests, ``simulate`` and
``sge-recon db init --reference-platform`` — through :func:`setup_database`.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


def ddl_files() -> list[Path]:
    """The reference platform's own DDL files (beyond §4), in order (CREATE … IF NOT EXISTS)."""
    return sorted((SQL_DIR / "platform").glob("*.sql"))


def setup_database(recon):
    """Create the reference platform's tables where absent and run the product's ``db init``
    (one transaction: a platform table of the wrong shape stops it before any change). ``recon`` is
    a :class:`sge_recon.context.Recon`; returns its InitReport."""
    return recon.init_db(platform_ddl=ddl_files())
