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

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import project_root
import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import InsufficientRights, SchemaMismatch, first_line
from .connection import Database, expect_row
from .contract import CONTRACT
from .relations import CONTRACT_FINGERPRINT

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


# Databases this process has seen with every migration applied: the code cannot move ahead of
# them while it runs, so the per-minute run asks once per process, not every minute.
_SEEN_CURRENT: set[tuple[str, str]] = set()


def schema_behind(db: Database) -> str | None:
    """Why ``recon`` is older than this sge-recon (never set up, or a migration not applied:
    sge-recon was upgraded and ``db init`` not run since), or None. A check run refuses to start
    on it: its SQL would read columns and views that ``db init`` has not made yet.

    A schema NEWER than this code (a migration this sge-recon does not know: a newer sge-recon
    ran ``db init`` on it) raises SchemaMismatch: running against an unknown schema is refused,
    and ``db init`` would not help."""
    seen = (db.url, db.relations.profile)
    if seen in _SEEN_CURRENT:
        return None
    wanted = [(v, name) for v, name, _ in migrations()]
    row = expect_row(db.fetch_one(
        "SELECT to_regclass('recon.schema_version') IS NOT NULL AS present"))
    if not row["present"]:
        return f"sge-recon's own schema (recon) is not set up in {db.where}"
    applied = {r["version"]: r["name"]
               for r in db.fetch_all("SELECT version, name FROM recon.schema_version")}
    refuse_newer_schema(db.where, applied)
    missing = [f"{v:04d}_{name}" for v, name in wanted if v not in applied]
    if not missing:
        views = _profile_views_missing(db)
        if views is None:
            _SEEN_CURRENT.add(seen)
        return views
    return (f"the recon schema in {db.where} lacks migration {missing[0]}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            + " (sge-recon was upgraded since the last `db init`)")


def _profile_views_missing(db: Database) -> str | None:
    """Under a platform profile, why its contract-shaped views are not there to read (db init
    never ran under it, or last ran under another profile), or None. Without this every check of
    the run errors on 'relation recon_platform.… does not exist', saying nothing of db init."""
    relations = db.relations
    if relations.schema == "public":
        return None
    row = expect_row(db.fetch_one(
        "SELECT to_regclass(%s) IS NOT NULL AS present, "
        "obj_description(to_regnamespace(%s), 'pg_namespace') AS note, "
        "to_regprocedure(%s) IS NOT NULL AS functions, "
        "to_regprocedure(%s) IS NOT NULL AS guarded",
        (f'"{relations.schema}"."ledger_entries"', relations.schema,
         f'"{relations.schema}".profile_status_labels()',
         f'"{relations.schema}".reads_as_built(text, text[], text[])')))
    made_for = re.search(r"\(profile (.+?)\);", row["note"] or "")
    if row["present"] and made_for and made_for.group(1) == relations.profile:
        if row["functions"] and row["guarded"]:
            return None
        if row["functions"]:  # db/profile_guard.py: made before the search_path guard
            return (f"the views of profile {relations.profile} in {relations.schema} were made "
                    "by an older sge-recon (without the search_path guard: a table of the same "
                    "name in a schema earlier on a reader's search_path would be read in the "
                    "platform's place)")
        # plain views, made by an older sge-recon: they hold the platform's columns (its
        # migrations fail) and lack the status flags the checks' predicates are rewritten onto
        return (f"the views of profile {relations.profile} in {relations.schema} were made by an "
                "older sge-recon (plain views, which block the platform's own migrations)")
    return (f"PLATFORM_PROFILE is {relations.profile}, but {db.where} has "
            + (f"the views of profile {made_for.group(1)}" if row["present"] and made_for else
               "no views for it")
            + f" in {relations.schema} (`db init` has not run under this profile)")


def refuse_newer_schema(where: str, applied: dict[int, str]) -> None:
    """Stop when ``recon.schema_version`` lists a migration this code does not have."""
    known = {v: name for v, name, _ in migrations()}
    # a version this code lacks, or one it has under another name (another branch's migration)
    unknown = sorted(v for v in applied if known.get(v) != applied[v])
    if not unknown:
        return
    first = f"{unknown[0]:04d}_{applied[unknown[0]]}"
    raise SchemaMismatch(
        f"the recon schema in {where} has migration {first}"
        + (f" and {len(unknown) - 1} more" if len(unknown) > 1 else "")
        + f" that this sge-recon does not know (its newest is {max(known, default=0):04d}): a "
          "newer sge-recon set this database up. Nothing was run or changed. Run the sge-recon "
          "release that applied it (or a later one), or point DATABASE_URL at the right database")


def refuse_unknown_schema(db: Database) -> None:
    """Stop when ``recon`` has a migration this code does not know (see refuse_newer_schema);
    an absent or older schema is left to the command (it says to run ``db init``)."""
    row = expect_row(db.fetch_one(
        "SELECT to_regclass('recon.schema_version') IS NOT NULL AS present"))
    if row["present"]:
        refuse_newer_schema(db.where, {r["version"]: r["name"] for r in db.fetch_all(
            "SELECT version, name FROM recon.schema_version")})


def require_current_schema(db: Database, then: str) -> None:
    """Stop with advice unless ``recon`` has exactly this code's migrations (not set up, behind
    — a gap included — or newer than the code)."""
    behind = schema_behind(db)
    if behind:
        raise SchemaMismatch(f"{behind}; run `sge-recon db init` (it applies the migrations), "
                             f"then {then}")


def init_db(db: Database, profile=None, *, platform_ddl: Sequence[Path] = ()) -> InitReport:
    """Apply pending ``recon`` migrations and set up the platform profile (see _init_db); a
    database user without the rights it needs gets an error naming the missing one."""
    try:
        return _init_db(db, profile, platform_ddl=platform_ddl)
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conninfo_to_dict(db.url).get("user")
        who = f"the database user {user}" if user else "this database user"
        raise InsufficientRights(
            f"`db init` cannot set up the schema in {db.where} as {who}: {first_line(exc)}. "
            "Nothing was changed. Run `sge-recon db init` with a login that owns the database "
            "(or has CREATE on it and on schema public, and owns the recon schema; CREATEROLE "
            "to manage the sge_recon_* roles), e.g. the migration/DBA login; the app's own "
            "login (a member of sge_recon_app) is not meant to run it") from None


def _init_db(db: Database, profile=None, *, platform_ddl: Sequence[Path] = ()) -> InitReport:
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
        if expect_row(conn.execute("SELECT to_regclass('recon.schema_version') IS NOT NULL "
                                   "AS present").fetchone())["present"]:
            refuse_newer_schema(db.where, {r["version"]: r["name"] for r in conn.execute(
                "SELECT version, name FROM recon.schema_version")})
        if profile is not None and not profile.is_contract:
            from .profile_views import install_profile

            installed = install_profile(conn, profile)
            report.profile, report.profile_views = installed.profile, installed.views
            report.absent = installed.absent
        else:
            _init_contract_platform(db, conn, report, platform_ddl)
        _migrate_recon(conn, report, db.where)
        from .ledger_checkpoint import align_checkpoint_order

        contract = profile is None or profile.is_contract
        ledger = None if contract else profile.tables["ledger_entries"]
        align_checkpoint_order(conn, "id" if ledger is None else ledger.order,
                               CONTRACT_FINGERPRINT if ledger is None
                               else ledger.fingerprint_identity)
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
        conn.execute(path.read_text(encoding="utf-8"))
    after = set(existing_columns(conn))
    report.created_tables = sorted(after - set(before))
    report.missing = sorted(set(CONTRACT) - after)
    drop_profile_views(conn)


def migration_sha256(path: Path) -> str:
    """The checksum recorded for an applied migration (line endings normalised, so a checkout
    with CRLF line endings is the same file)."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _migrate_recon(conn, report: InitReport, where: str) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS recon")
    conn.execute("CREATE TABLE IF NOT EXISTS recon.schema_version ("
                 " version integer PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())")
    conn.execute("ALTER TABLE recon.schema_version ADD COLUMN IF NOT EXISTS sha256 text NULL")
    conn.execute("COMMENT ON COLUMN recon.schema_version.sha256 IS 'SHA-256 of the migration "
                 "file as applied (NULL only until the first db init that records checksums); "
                 "db init refuses a file changed since'")
    applied = {r["version"]: r["sha256"]
               for r in conn.execute("SELECT version, sha256 FROM recon.schema_version")}
    found = migrations()
    _refuse_edited(where, found, applied)
    for version, name, path in found:
        if version in applied:
            if applied[version] is None:  # applied before checksums were recorded
                conn.execute("UPDATE recon.schema_version SET sha256 = %s WHERE version = %s",
                             (migration_sha256(path), version))
            continue
        conn.execute(path.read_text(encoding="utf-8"))
        conn.execute("INSERT INTO recon.schema_version (version, name, sha256) "
                     "VALUES (%s, %s, %s)", (version, name, migration_sha256(path)))
        report.applied_migrations.append(f"{version:04d}_{name}")
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM recon.schema_version")
    report.recon_version = row.fetchone()["v"]


def _refuse_edited(where: str, found: list[tuple[int, str, Path]],
                   applied: dict[int, str | None]) -> None:
    """Stop when an applied migration's file no longer is what was applied: db init never runs
    it again, so the change would silently never reach this database."""
    edited = [(path, applied[v]) for v, _, path in found
              if applied.get(v) is not None and applied[v] != migration_sha256(path)]
    if not edited:
        return
    path, recorded = edited[0]
    names = ", ".join(p.name for p, _ in edited)
    raise SchemaMismatch(
        f"migration {names} changed after it was applied to {where} (sha256 then "
        f"{str(recorded)[:12]}…, the file now {migration_sha256(path)[:12]}…): `db init` never "
        "runs an applied migration again, so the change would not reach this database. Nothing "
        f"was changed. Restore {path} and put the change in a new migration (the next "
        "NNNN_name.sql); if the edit needs no database change (a comment in the file), accept "
        "the file as it is with UPDATE recon.schema_version SET sha256 = NULL WHERE version = "
        "<its number>, then run `sge-recon db init` again")


def _apply_privileges(conn, report: InitReport) -> None:
    """Create the least-privilege roles and grants; skipped (with a note) without CREATEROLE."""
    allowed = conn.execute(
        "SELECT rolsuper OR rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user"
    ).fetchone()["ok"]
    if not allowed:
        report.notes.append("roles sge_recon_readonly / sge_recon_app not managed: the database "
                            "user lacks CREATEROLE; ask a DBA to run sql/privileges.sql")
        return
    conn.execute((sql_dir() / "privileges.sql").read_text(encoding="utf-8"))
    _check_profile_grants(conn)


def _check_profile_grants(conn) -> None:
    """Under a profile: both roles read every platform table the profile reads. A GRANT by a
    login that neither owns a table nor holds SELECT on it WITH GRANT OPTION is only a warning
    in PostgreSQL: db init would succeed and every check of the app's login then fail with
    "permission denied". Refused instead, in db init's transaction (nothing is made)."""
    if not expect_row(conn.execute(
            "SELECT to_regprocedure('recon_platform.profile_platform_tables()') IS NOT NULL "
            "AS profile").fetchone())["profile"]:
        return
    missing = [r["name"] for r in conn.execute(
        "SELECT t.name FROM recon_platform.profile_platform_tables() AS t(name) "
        "WHERE NOT has_table_privilege('sge_recon_readonly', t.name, 'SELECT') "
        "   OR NOT has_table_privilege('sge_recon_app', t.name, 'SELECT') ORDER BY 1")]
    if missing:
        tables = ", ".join(missing)
        user = expect_row(conn.execute("SELECT current_user AS u").fetchone())["u"]
        raise InsufficientRights(
            f"`db init` could not grant sge_recon_readonly and sge_recon_app SELECT on the "
            f"platform tables the profile reads ({tables}): the database user {user} neither "
            "owns them nor holds SELECT on them WITH GRANT OPTION, so PostgreSQL granted nothing "
            "(a warning only) and every check would fail with 'permission denied'. Nothing was "
            f"changed. Have the tables' owner (the platform's migration login) run GRANT SELECT "
            f"ON {tables} TO sge_recon_readonly, sge_recon_app (or GRANT SELECT ... TO {user} "
            "WITH GRANT OPTION), then run `sge-recon db init` again")
