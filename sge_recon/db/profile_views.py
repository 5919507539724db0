"""``db init`` under a platform profile: validate it against the live catalogue, then create the
contract-shaped views in sge-recon's own schema (``recon_platform``). Never touches a platform table.

Validation runs every expression of the profile in the database (``LIMIT 0``: nothing is read), so
a column that does not exist, an expression that does not type-check, or a type of the wrong family
is reported with the profile line that wrote it. For a status map the source expression's enum
labels are read from ``pg_enum``: a label the profile does not map, or a mapped label the enum does
not have, is an error (a new platform status must fail loudly, never become a NULL that hides rows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from ..errors import ProfileError
from .connection import DictConnection, expect_row
from .contract import CONTRACT
from .profile_mapping import Column, Profile, StatusMap, TableMapping
from .relations import CONTRACT_TABLES, PROFILE_SCHEMA, ROW_HASH_COLUMN

# Contract type family -> the type a view column is cast to, and the type OIDs it accepts.
_CAST = {"text": "text", "numeric": "numeric", "timestamptz": "timestamptz", "int": "bigint",
         "bool": "boolean", "jsonb": "jsonb"}
_OIDS = {"text": {25, 1043, 1042, 19}, "numeric": {1700}, "timestamptz": {1184},
         "int": {20, 21, 23}, "bool": {16}, "jsonb": {3802}}
_TIMESTAMP_WITHOUT_TZ = 1114
_UNKNOWN = 705  # an untyped literal such as NULL or 'USD': accepted, cast to the contract type
# Ids are text on real platforms (cuids): a profile may give these integer columns as text.
_TEXT_IDS_ALLOWED = {("ledger_entries", "id"), ("jobs", "id"), ("rpc_calls", "id")}


@dataclass
class ProfileReport:
    profile: str
    views: list[str] = field(default_factory=list)
    absent: dict[str, str] = field(default_factory=dict)


# The suffix of the platform-label column beside each mapped status of a view (rewriting only;
# not a contract column: exports leave it out, so auditors see the contract's columns)
LABEL_SUFFIX = "__label"


def is_helper_column(name: str) -> bool:
    """A profile view's rewriting aid (a status's platform label, the ledger's row hash), not a
    contract column: exports and copies of the views leave it out."""
    return name.endswith(LABEL_SUFFIX) or name == ROW_HASH_COLUMN


def install_profile(conn: DictConnection, profile: "Profile") -> ProfileReport:
    """Validate ``profile`` and (re)create its views; in the caller's transaction."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PROFILE_SCHEMA}")
    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
        sql.Identifier(PROFILE_SCHEMA),
        sql.Literal(f"sge-recon: contract-shaped views of the platform (profile {profile.name}); "
                    "recreated by `sge-recon db init`")))
    report = ProfileReport(profile.name)
    definitions = {t: _view_sql(conn, profile, profile.tables[t]) for t in CONTRACT_TABLES}
    for table in reversed(CONTRACT_TABLES):
        _drop_view(conn, table)
    for table in CONTRACT_TABLES:
        mapping = profile.tables[table]
        _raw(conn).execute(f'CREATE VIEW {PROFILE_SCHEMA}."{table}" AS {definitions[table]}')
        note = (f"absent on this platform: {mapping.absent}" if mapping.absent else
                f"contract table {table} over the platform's {mapping.source}")
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(
            sql.Identifier(PROFILE_SCHEMA, table), sql.Literal(f"profile {profile.name}: {note}")))
        if mapping.absent:
            report.absent[table] = mapping.absent
        else:
            report.views.append(table)
    _check_ledger_keys(conn, profile, profile.tables["ledger_entries"])
    return report


def _drop_view(conn: DictConnection, table: str) -> None:
    """Drop one of the profile's views to recreate it; one that a view of someone else's reads
    is not dropped from under it (no CASCADE): db init stops and names the dependents."""
    try:
        with conn.transaction():
            conn.execute(f'DROP VIEW IF EXISTS {PROFILE_SCHEMA}."{table}"')
    except psycopg.errors.DependentObjectsStillExist:
        dependents = [r["name"] for r in conn.execute(
            "SELECT DISTINCT v.oid::regclass::text AS name FROM pg_depend d "
            "JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class "
            "WHERE d.refobjid = %s::regclass AND v.oid <> d.refobjid ORDER BY 1",
            (f'{PROFILE_SCHEMA}."{table}"',))]
        raise ProfileError(
            f"db init recreates the view {PROFILE_SCHEMA}.{table}, but "
            f"{', '.join(dependents) or 'another object'} depends on it; drop or move "
            f"{'that object' if len(dependents) < 2 else 'those objects'} (sge-recon owns the "
            f"{PROFILE_SCHEMA} schema) and run db init again") from None


def drop_profile_views(conn: DictConnection) -> None:
    """Back to the contract profile: the views of an earlier profile must not linger."""
    conn.execute(f"DROP SCHEMA IF EXISTS {PROFILE_SCHEMA} CASCADE")


def _view_sql(conn: DictConnection, profile: "Profile", mapping: "TableMapping") -> str:
    contract = CONTRACT[mapping.table]
    if mapping.absent:
        # An empty relation of the contract's shape: queries run, every signal on it is
        # `unavailable` (the checks engine reads that from the profile, not from the emptiness).
        cols = ", ".join(f"NULL::{_CAST[f]} AS {c}" for c, f in contract.items())
        return f"SELECT {cols} WHERE false"
    _try(conn, f"SELECT 1 FROM {mapping.source} LIMIT 0", profile, mapping.line,
         f"tables.{mapping.table}.from")
    where = f" WHERE {mapping.where}" if mapping.where else ""
    if mapping.where:
        _try(conn, f"SELECT 1 FROM {mapping.source}{where} LIMIT 0", profile, mapping.line,
             f"tables.{mapping.table}.where")
    selected = []
    for column in mapping.columns:
        family = contract.get(column.name)
        enum = _check_column(conn, profile, mapping, column, family)
        cast = "text" if (mapping.table, column.name) in _TEXT_IDS_ALLOWED and \
            _type_oid(conn, profile, mapping, column) in _OIDS["text"] else \
            (_CAST[family] if family else None)
        expression = column.expression.sql(enum=True) if enum else column.sql()  # type: ignore[union-attr]
        expression = _UTC_BY_NAME.sub("AT TIME ZONE INTERVAL '00:00'", expression)
        selected.append(f"{expression}{'::' + cast if cast else ''} AS {column.name}")
        if isinstance(column.expression, StatusMap):
            # the platform's own label beside the mapped status: status predicates are rewritten
            # onto it (db/status_predicates.py); an enum stays an enum (its index and statistics)
            label = f"{column.name}{LABEL_SUFFIX}"
            if label in {c.name for c in mapping.columns}:
                raise ProfileError(f"{profile.where(column.line)}: tables.{mapping.table}.columns."
                                   f"{label}: the name is taken by the status map of "
                                   f"{column.name} (its platform label); rename that column")
            selected.append(f"({column.expression.source}){'' if enum else '::text'} AS {label}")
    if mapping.fingerprint:
        selected.append(f"{_fingerprint(conn, profile, mapping)} AS {ROW_HASH_COLUMN}")
    return f"SELECT {', '.join(selected)} FROM {mapping.source}{where}"


def _fingerprint(conn: DictConnection, profile: "Profile", mapping: "TableMapping") -> str:
    """The per-row hash of the profile's ``fingerprint:`` (ledger_tamper compares its sums with
    the checkpoint's). A record hash: NULLs and column boundaries are part of it, and each
    column is hashed by its type's own hash function (which must exist: checked here). Mixed
    once more (hashint8extended): a record hash is linear in its columns' hashes, so its SUM
    over rows would not see two entries swap a column's values (migration 0031; the identity,
    TableMapping.fingerprint_identity, names this definition)."""
    where = "tables.ledger_entries.fingerprint"
    if ROW_HASH_COLUMN in {c.name for c in mapping.columns}:
        raise ProfileError(f"{profile.where(mapping.fingerprint_line)}: {where}: the column name "
                           f"{ROW_HASH_COLUMN} is taken by the fingerprint; rename that column")
    types = []
    for expression in mapping.fingerprint:
        cur = _try(conn, f"SELECT ({expression}) AS c FROM {mapping.source} LIMIT 0", profile,
                   mapping.fingerprint_line, f"{where}: {expression}")
        types.append(expect_row(conn.execute("SELECT format_type(%s, NULL) AS t",
                                             (cur.description[0].type_code,)).fetchone())["t"])
    nulls = ", ".join(f"NULL::{t}" for t in types)
    _try(conn, f"SELECT hash_record_extended(ROW({nulls}), 0)", profile,
         mapping.fingerprint_line, f"{where} ({', '.join(types)})")
    return (f"hashint8extended(hash_record_extended(ROW("
            f"{', '.join(f'({e})' for e in mapping.fingerprint)}), 0), 0)")


def _check_column(conn: DictConnection, profile: "Profile", mapping: "TableMapping",
                  column: "Column", family: str | None) -> bool:
    """Raise the profile's error for a column of the wrong type; True for a status map over an
    enum (every label mapped)."""
    where = f"tables.{mapping.table}.columns.{column.name}"
    enum = False
    if isinstance(column.expression, StatusMap):
        enum = _check_status_map(conn, profile, mapping, column.expression, where)
    oid = _type_oid(conn, profile, mapping, column)
    if family is None or oid == _UNKNOWN:
        return enum  # beside the contract's, or an untyped literal cast to the contract type
    allowed = _OIDS[family] | (_OIDS["text"] if (mapping.table, column.name) in
                               _TEXT_IDS_ALLOWED else set())
    if oid in allowed:
        return enum
    type_name = expect_row(conn.execute("SELECT format_type(%s, NULL) AS t",
                                        (oid,)).fetchone())["t"]
    hint = ""
    if family == "timestamptz" and oid == _TIMESTAMP_WITHOUT_TZ:
        hint = (" A timestamp without time zone is ambiguous: say which zone it holds, e.g. "
                f"({column.sql()} AT TIME ZONE 'UTC') for UTC")
    elif family == "numeric" and oid in (700, 701):
        hint = " Money must be exact: the platform column is float; the contract needs numeric"
    raise ProfileError(f"{profile.where(column.line)}: {where} is {type_name}, the contract "
                       f"needs {family}.{hint}")


def _type_oid(conn: DictConnection, profile: "Profile", mapping: "TableMapping",
              column: "Column") -> int:
    where = f"tables.{mapping.table}.columns.{column.name}"
    cur = _try(conn, f"SELECT {column.sql()} AS c FROM {mapping.source} LIMIT 0", profile,
               column.line, where)
    return cur.description[0].type_code


def _check_status_map(conn: DictConnection, profile: "Profile", mapping: "TableMapping",
                      status: "StatusMap", where: str) -> bool:
    cur = _try(conn, f"SELECT ({status.source}) AS c FROM {mapping.source} LIMIT 0",
               profile, status.line, f"{where}.from")
    oid = cur.description[0].type_code
    labels = [r["enumlabel"] for r in conn.execute(
        "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder", (oid,))]
    if not labels:
        return False  # a text status: every value maps or shows as unmapped:<value>, never NULL
    type_name = expect_row(conn.execute("SELECT format_type(%s, NULL) AS t",
                                        (oid,)).fetchone())["t"]
    mapped = status.labels
    unmapped = [label for label in labels if label not in mapped]
    unknown = [label for label in mapped if label not in labels]
    if unmapped:
        raise ProfileError(
            f"{profile.where(status.line)}: {where}: the platform's {type_name} has "
            f"label(s) {', '.join(unmapped)} that the map does not name; map each to a contract "
            "status (an unmapped status would hide its rows)")
    if unknown:
        raise ProfileError(
            f"{profile.where(status.line)}: {where}: {', '.join(unknown)} is not a label of "
            f"{type_name} (labels: {', '.join(labels)}); fix the spelling or remove it")
    return True


# `x AT TIME ZONE 'UTC'` (how a profile reads a naive UTC column) looks the zone up by name for
# every row; the zero offset is the same instant whatever the session's TimeZone (UTC has no
# daylight saving) and costs half as much: 0.6 s -> 0.3 s for three conversions of 420 000 rows.
_UTC_BY_NAME = re.compile(r"\bAT\s+TIME\s+ZONE\s+'UTC'", re.IGNORECASE)
_CUID = "^c[0-9a-z]{24}$"  # cuid v1: 'c', 8 base-36 digits of the time in ms, 16 more


def _check_ledger_keys(conn: DictConnection, profile: "Profile",
                       mapping: "TableMapping") -> None:
    """``order: cuid`` and ``journal_key`` of the ledger, against the rows (the incremental checks
    are exact only when they hold; docs/profiles.md, "Speed")."""
    view = sql.Identifier(PROFILE_SCHEMA, "ledger_entries")
    where = "tables.ledger_entries"
    if mapping.order == "cuid":
        bad = conn.execute(sql.SQL("SELECT id FROM {} WHERE id !~ %s LIMIT 1").format(view),
                           (_CUID,)).fetchone()
        if bad:
            raise ProfileError(
                f"{profile.where(mapping.order_line)}: {where}.order: cuid, but the ledger id "
                f"{bad['id']!r} is not a cuid ('c' + 24 lowercase base-36 characters, the first 8 "
                "its creation time); use `order: created_at`")
        # the ids' collation must order base-36 text as bytes do (digits, then a-z; a prefix
        # first), or the primary key's ranges are not time ranges
        collation = conn.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = %s::regclass AND a.attname = 'id'",
            (f"{PROFILE_SCHEMA}.ledger_entries",)).fetchone()
        probe = sql.SQL(
            "WITH d(x) AS (SELECT substr('0123456789abcdefghijklmnopqrstuvwxyz', g, 1) "
            "FROM generate_series(1, 36) g), p(x) AS (SELECT 'c' || a.x || b.x FROM d a, d b "
            "UNION ALL SELECT 'c' || x FROM d UNION ALL SELECT 'c') "
            "SELECT array_agg(x ORDER BY x COLLATE {}) = array_agg(x ORDER BY x COLLATE \"C\") "
            "AS same FROM p").format(sql.Identifier(collation["collname"] if collation
                                                    else "default"))
        if not expect_row(conn.execute(probe).fetchone())["same"]:
            raise ProfileError(
                f"{profile.where(mapping.order_line)}: {where}.order: cuid, but the ledger ids' "
                f"collation ({collation['collname'] if collation else 'default'}) does not order "
                "base-36 text as its bytes, so id ranges are not time ranges; use "
                "`order: created_at`")
    if mapping.journal_key:
        key = sql.SQL(", ").join(sql.Identifier(c) for c in mapping.journal_key)
        row = expect_row(conn.execute(sql.SQL(
            "SELECT count(*) AS pairs, count(DISTINCT ROW(transaction_id)) AS journals, "
            "count(DISTINCT ROW({key})) AS keys FROM (SELECT DISTINCT transaction_id, {key} "
            "FROM {view}) g").format(key=key, view=view)).fetchone())
        if not row["pairs"] == row["journals"] == row["keys"]:
            raise ProfileError(
                f"{profile.where(mapping.journal_key_line)}: {where}.journal_key: "
                f"({', '.join(mapping.journal_key)}) does not identify transaction_id one to one "
                f"in the platform's rows ({row['journals']} transactions, {row['keys']} keys, "
                f"{row['pairs']} pairs of both); name the columns transaction_id is made of, or "
                "remove journal_key")


def _raw(conn: DictConnection) -> psycopg.Cursor[DictRow]:
    """A cursor that runs the profile's SQL as written: the profile speaks the platform's own
    names, which are never resolved as ``platform.<contract table>`` references."""
    return psycopg.Cursor(conn, row_factory=dict_row)


def _try(conn: DictConnection, sql: str, profile: "Profile", line: int, where: str):
    try:
        with conn.transaction():
            return _raw(conn).execute(sql)
    except psycopg.Error as exc:
        message = (exc.diag.message_primary or str(exc)).strip()
        raise ProfileError(f"{profile.where(line)}: {where}: the database rejects it: "
                           f"{message}; fix the expression against the platform's tables") \
            from None


def unmapped_status_labels(db, status_labels: tuple) -> dict[str, list[str]]:
    """Contract table -> the platform labels of its mapped statuses that the profile does not map
    (``status_labels``: PlatformRelations.status_labels), read from the catalogue: the enum type of
    each view's ``<status>__label`` column. A label the platform added after ``db init`` shows as
    ``unmapped:<label>``, which no check's status predicate names (stuck_intents misses an intent
    stuck in it); a query of the catalogue, cheap enough for every run."""
    if not status_labels:
        return {}
    rows = db.fetch_all(
        "SELECT c.relname AS table_name, a.attname AS column_name, e.enumlabel AS label "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_enum e ON e.enumtypid = a.atttypid "
        "WHERE n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attname, e.enumsortorder", (PROFILE_SCHEMA,))
    mapped = {(table, column + LABEL_SUFFIX): {label for _, labels in values for label in labels}
              for table, column, values in status_labels}
    out: dict[str, list[str]] = {}
    for row in rows:
        known = mapped.get((row["table_name"], row["column_name"]))
        if known is not None and row["label"] not in known:
            out.setdefault(row["table_name"], []).append(
                f'{row["column_name"][:-len(LABEL_SUFFIX)]} {row["label"]}')
    return out
