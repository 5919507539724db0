"""The reference platform: a STAND-IN for the real SGE service, not part of the product.

It implements DESIGN §6 (the admin API, the settlement worker, the webhook dispatcher and live
traffic) against the platform schema of §4, plus the simulator (``simulate/``), the SGE-shaped
stand-in (``sge_*.py``), the demo, and its DDL (``sql/``). The console, the demo and the fault
tests talk to it over real HTTP and a real PostgreSQL.

House rules (pyproject.toml import contracts): the product (``sge_recon``) never imports this
package; this package uses only the product's public helpers (``sge_recon.db.Database``,
``config``, ``errors``, ``context.Recon``), keeps its SQL in ``store/``, ``sge_store.py`` and
``simulate/store.py``, and writes only platform tables, never sge-recon's ``recon`` schema. Its
tables are created by :func:`refplatform.setup.setup_database` (``sge-recon db init
--reference-platform``, the demo, ``simulate``, the tests). FastAPI/uvicorn: the ``platform``
dependency group.
"""
