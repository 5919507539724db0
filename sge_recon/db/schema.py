"""``sge-recon db init``: the ``recon`` migrations, validated against the platform's tables.

Under the contract profile the §4 platform schema is created where absent (DESIGN §10,
``sql/contract/``); a caller that sets up more of a platform (the reference platform's own tables
for its demo and tests, ``db init --reference-platform``) hands its DDL files in as
``platform_ddl``. Under any other profile no platform table is created or altered.

Everything happens in one transaction under an advisory lock: either the whole schema is in place
afterwards, or nothing changed. An existing platform table whose shape breaks the contract (a
missing column, money stored as float, ...) stops the init before any change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import project_root
from ..errors import SchemaMismatch
from .connection import Database

# DESIGN §4: table -> required column -> type family. "int" accepts any integer width.
CONTRACT: dict[str, dict[str, str]] = {
    "programs": {"id": "text", "name": "text", "currency": "text", "treasury_address": "text",
                 "direct_commission_rate": "numeric", "parent_commission_rate": "numeric",
                 "created_at": "timestamptz"},
    "affiliates": {"id": "text", "program_id": "text", "code": "text", "parent_id": "text",
                   "created_at": "timestamptz"},
    "users": {"id": "text", "program_id": "text", "wallet": "text", "referred_by": "text",
              "created_at": "timestamptz"},
    "settlement_intents": {"id": "text", "program_id": "text", "user_id": "text",
                           "amount": "numeric", "currency": "text", "status": "text",
                           "idempotency_key": "text", "attempts": "int", "last_error": "text",
                           "created_at": "timestamptz", "status_changed_at": "timestamptz",
                           "completed_at": "timestamptz"},
    "settlements": {"id": "text", "intent_id": "text", "program_id": "text", "tx_hash": "text",
                    "block_number": "int", "amount": "numeric", "confirmed_at": "timestamptz"},
    "chain_transactions": {"tx_hash": "text", "block_number": "int", "from_address": "text",
                           "to_address": "text", "amount": "numeric",
                           "observed_at": "timestamptz"},
    "ledger_entries": {"id": "int", "program_id": "text", "transaction_id": "text",
                       "intent_id": "text", "account": "text", "type": "text",
                       "amount": "numeric", "currency": "text", "created_at": "timestamptz"},
    "commissions": {"id": "text", "program_id": "text", "affiliate_id": "text",
                    "intent_id": "text", "level": "int", "rate": "numeric",
                    "base_amount": "numeric", "amount": "numeric", "status": "text",
                    "payout_batch_id": "text", "created_at": "timestamptz"},
    "payout_batches": {"id": "text", "program_id": "text", "status": "text",
                       "affiliate_count": "int", "total_amount": "numeric",
                       "created_at": "timestamptz", "approved_at": "timestamptz",
                       "executed_at": "timestamptz"},
    "payout_approvals": {"batch_id": "text", "approver": "text", "approved_at": "timestamptz"},
    "webhook_endpoints": {"id": "text", "program_id": "text", "url": "text", "enabled": "bool",
                          "disabled_at": "timestamptz", "created_at": "timestamptz"},
    "webhook_deliveries": {"id": "text", "endpoint_id": "text", "event_type": "text",
                           "payload": "jsonb", "status": "text", "attempt_count": "int",
                           "last_error": "text", "last_attempt_at": "timestamptz",
                           "next_retry_at": "timestamptz", "created_at": "timestamptz"},
    "worker_heartbeats": {"worker_id": "text", "started_at": "timestamptz",
                          "last_seen_at": "timestamptz", "jobs_completed": "int"},
    "jobs": {"id": "int", "queue": "text", "intent_id": "text", "status": "text",
             "attempts": "int", "run_at": "timestamptz", "created_at": "timestamptz",
             "started_at": "timestamptz", "finished_at": "timestamptz", "last_error": "text"},
    "queue_control": {"queue": "text", "paused": "bool", "changed_at": "timestamptz",
                      "changed_by": "text"},
    "rpc_calls": {"id": "int", "provider": "text", "method": "text", "latency_ms": "numeric",
                  "ok": "bool", "called_at": "timestamptz"},
}

_FAMILIES = {
    "text": {"text", "character varying", "character"},
    "numeric": {"numeric"},
    "timestamptz": {"timestamp with time zone"},
    "int": {"integer", "bigint", "smallint"},
    "bool": {"boolean"},
    "jsonb": {"jsonb"},
}
# latency_ms may reasonably be stored as an integer or a float: it is not money.
_LENIENT = {("rpc_calls", "latency_ms"): {"numeric", "integer", "bigint", "double precision",
                                          "real"}}

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
INIT_LOCK_KEY = 0x5E1EC0  # advisory lock: one `db init` at a time per database


@dataclass
class InitReport:
    created_tables: list[str] = field(default_factory=list)
    applied_migrations: list[str] = field(default_factory=list)
    recon_version: int = 0
    notes: list[str] = field(default_factory=list)
    profile: str = "contract"
    profile_views: list[str] = field(default_factory=list)
    absent: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # contract tables absent (nothing created)

    @property
    def changed(self) -> bool:
        return bool(self.created_tables or self.applied_migrations)


def sql_dir() -> Path:
    return project_root() / "sql"


def contract_problems(db_columns: dict[str, dict[str, str]]) -> list[str]:
    """Compare existing tables (name -> column -> data_type) with the contract.

    Absent tables are fine (they will be created); a present table must have every contract
    column with a type of the right family.
    """
    problems = []
    for table, columns in CONTRACT.items():
        if table not in db_columns:
            continue
        actual = db_columns[table]
        for column, family in columns.items():
            if column not in actual:
                problems.append(f"public.{table} has no column {column} ({family})")
                continue
            allowed = _LENIENT.get((table, column), _FAMILIES[family])
            if actual[column] not in allowed:
                problems.append(f"public.{table}.{column} is {actual[column]}, "
                                f"the contract needs {family}")
    return problems


def existing_columns(conn) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = ANY(%s)", (list(CONTRACT),)).fetchall()
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        out.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    return out


def contract_ddl() -> list[Path]:
    """DESIGN §4's platform schema, created where absent under the contract profile (§10)."""
    return sorted((sql_dir() / "contract").glob("*.sql"))


def migrations(directory: Path | None = None) -> list[tuple[int, str, Path]]:
    directory = directory or sql_dir() / "recon"
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise SchemaMismatch(f"{path}: migration files must be named NNNN_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise SchemaMismatch(f"{directory}: two migrations share a version number")
    return found


def init_db(db: Database, profile=None, *, platform_ddl: Sequence[Path] = ()) -> InitReport:
    """Apply pending ``recon`` migrations and set up the platform profile.

    Under the ``contract`` profile (``profile`` None or contract) the existing §4 tables are
    validated and the absent ones created (DESIGN §10: ``sql/contract/``, the contract's schema
    and the indexes the product's queries rely on); ``platform_ddl`` (the extra tables of whoever
    sets up a platform here: the reference platform's audit log, attempts, corrections … for the
    demo and the tests) runs after them, in the same transaction. Under any other profile
    the profile is validated against the live catalogue and its contract-shaped views created in
    sge-recon's own schema: no platform table is ever created or altered.
    """
    report = InitReport()
    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (INIT_LOCK_KEY,))
        if profile is not None and not profile.is_contract:
            from .profile_views import install_profile

            installed = install_profile(conn, profile)
            report.profile, report.profile_views = installed.profile, installed.views
            report.absent = installed.absent
        else:
            _init_contract_platform(db, conn, report, platform_ddl)
        _migrate_recon(conn, report)
        from .ledger_checkpoint import align_checkpoint_order

        align_checkpoint_order(conn, "id" if profile is None or profile.is_contract
                               else profile.tables["ledger_entries"].order)
        _apply_privileges(conn, report)
    return report


def _init_contract_platform(db: Database, conn, report: InitReport,
                            platform_ddl: Sequence[Path]) -> None:
    from .profile_views import drop_profile_views

    before = existing_columns(conn)
    problems = contract_problems(before)
    if problems:
        raise SchemaMismatch(
            f"the platform tables in {db.where} do not match the contract (DESIGN §4): "
            + "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
            + ". Nothing was changed. Point DATABASE_URL at the platform's database, fix "
              "those tables, or map them with a platform profile (PLATFORM_PROFILE)")
    for path in [*contract_ddl(), *platform_ddl]:
        conn.execute(path.read_text(encoding="utf-8"))  # type: ignore[arg-type]
    after = set(existing_columns(conn))
    report.created_tables = sorted(after - set(before))
    report.missing = sorted(set(CONTRACT) - after)
    drop_profile_views(conn)


def _migrate_recon(conn, report: InitReport) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS recon")
    conn.execute("CREATE TABLE IF NOT EXISTS recon.schema_version ("
                 " version integer PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())")
    applied = {r["version"] for r in conn.execute("SELECT version FROM recon.schema_version")}
    for version, name, path in migrations():
        if version in applied:
            continue
        conn.execute(path.read_text(encoding="utf-8"))  # type: ignore[arg-type]
        conn.execute("INSERT INTO recon.schema_version (version, name) VALUES (%s, %s)",
                     (version, name))
        report.applied_migrations.append(f"{version:04d}_{name}")
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM recon.schema_version")
    report.recon_version = row.fetchone()["v"]


def _apply_privileges(conn, report: InitReport) -> None:
    """Create the least-privilege roles and grants; skipped (with a note) without CREATEROLE."""
    allowed = conn.execute(
        "SELECT rolsuper OR rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user"
    ).fetchone()["ok"]
    if not allowed:
        report.notes.append("roles sge_recon_readonly / sge_recon_app not managed: the database "
                            "user lacks CREATEROLE; ask a DBA to run sql/privileges.sql")
        return
    conn.execute((sql_dir() / "privileges.sql").read_text(encoding="utf-8"))  # type: ignore[arg-type]
