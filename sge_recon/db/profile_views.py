"""``db init`` under a platform profile: validate it against the live catalogue, then create the
contract-shaped relations in sge-recon's own schema (``recon_platform``). Never touches a platform
table, and never holds one: the platform's own migrations must run as if sge-recon were not there.

Each mapped relation is a view over a set-returning SQL function, ``recon_platform."<table>__rows"()``
(``LANGUAGE sql STABLE``, its single SELECT given as a string, not ``BEGIN ATOMIC``). PostgreSQL
records no dependency of a string body on the tables, columns or types it names, so the platform
may alter a column's type, drop a column or swap an enum type (Prisma's migrations) under it; and
it inlines such a function into the query that reads the view, so the checks' predicates reach the
platform's columns, statistics and indexes as through a plain view. The function returns plain
built-in types only (an enum as ``text``), and each column's expression is wrapped in
``recon_platform.of_type(<expression>, NULL::<its type at db init>)``, which inlines to the
expression itself but refuses another type: after a platform change the relation reads the same
data or fails, naming itself (:func:`profile_error`: "run `sge-recon db init` again"), never a
quietly converted value (a timestamp column turned timestamptz would otherwise be shifted by the
session's TimeZone through the function's implicit cast).

Validation runs every expression of the profile in the database (``LIMIT 0``: nothing is read), so
a column that does not exist, an expression that does not type-check, or a type of the wrong family
is reported with the profile line that wrote it. For a status map the source expression's enum
labels are read from ``pg_enum``: a label the profile does not map, or a mapped label the enum does
not have, is an error (a new platform status must fail loudly, never become a NULL that hides rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from ..errors import InsufficientRights, ProfileError
from .connection import DictConnection, expect_row
from .contract import contract_columns
from .profile_guard import create_resolves_guard, resolves_guard
from .profile_mapping import Column, Profile, StatusMap, TableMapping
from .relations import (PROFILE_TABLES, PROFILE_SCHEMA, ROW_HASH_COLUMN, ROWS_SUFFIX,
                        STATUS_LABELS)
from .status_predicates import FLAG_INFIX, flag_column

# Contract type family -> the type a view column is cast to, and the type OIDs it accepts.
_CAST = {"text": "text", "numeric": "numeric", "timestamptz": "timestamptz", "int": "bigint",
         "bool": "boolean", "jsonb": "jsonb"}
_OIDS = {"text": {25, 1043, 1042, 19}, "numeric": {1700}, "timestamptz": {1184},
         "int": {20, 21, 23}, "bool": {16}, "jsonb": {3802}}
_TIMESTAMP_WITHOUT_TZ = 1114
_BOOLEAN = 16
_UNKNOWN = 705  # an untyped literal such as NULL or 'USD': accepted, cast to the contract type
# Ids are text on real platforms (cuids): a profile may give these integer columns as text.
_TEXT_IDS_ALLOWED = {("ledger_entries", "id"), ("jobs", "id"), ("rpc_calls", "id")}


@dataclass
class ProfileReport:
    profile: str
    views: list[str] = field(default_factory=list)
    absent: dict[str, str] = field(default_factory=dict)


OF_TYPE = "of_type"  # recon_platform.of_type(value, like): value, if it is of like's type
READS = "profile_platform_tables"  # recon_platform.profile_platform_tables(): what the views read


@dataclass
class _Relation:
    body: str                                   # the SELECT (the function's body, or the view's)
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, declared type)
    enums: list[tuple[str, str]] = field(default_factory=list)    # (status column, enum type)


def is_helper_column(name: str) -> bool:
    """A profile relation's rewriting aid (a status's per-value flag, the ledger's row hash), not a
    contract column: exports and copies of the views leave it out."""
    return FLAG_INFIX in name or name == ROW_HASH_COLUMN


def install_profile(conn: DictConnection, profile: "Profile") -> ProfileReport:
    """Validate ``profile`` and (re)create its relations; in the caller's transaction."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PROFILE_SCHEMA}")
    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
        sql.Identifier(PROFILE_SCHEMA),
        sql.Literal(f"sge-recon: contract-shaped views of the platform (profile {profile.name}); "
                    "recreated by `sge-recon db init`")))
    report = ProfileReport(profile.name)
    relations = {t: _view_sql(conn, profile, profile.tables[t]) for t in PROFILE_TABLES}
    for table in reversed(PROFILE_TABLES):
        _drop_view(conn, table)
    _drop_functions(conn)
    _create_function(conn, OF_TYPE, (("value", "anyelement"), ("type_of", "anyelement")), "anyelement",
                     "SELECT value", "IMMUTABLE",
                     "sge-recon: value itself when it is of the type of type_of, else the call "
                     "fails: the type guard of the profile's relations (inlined, costs nothing)")
    reads = {t: _tables_read(conn, relations[t].body) for t in PROFILE_TABLES
             if not profile.tables[t].absent}
    create_resolves_guard(conn)
    for table, pairs in reads.items():
        relations[table].body += (" AND " if profile.tables[table].where else " WHERE ") + \
            resolves_guard(table, pairs)
    for table in PROFILE_TABLES:
        mapping, relation = profile.tables[table], relations[table]
        note = (f"absent on this platform: {mapping.absent}" if mapping.absent else
                f"contract table {table} over the platform's {mapping.source}")
        if mapping.absent:
            select = relation.body
        else:
            columns = ", ".join(_quoted(name) for name, _ in relation.columns)
            function = _create_function(
                conn, f"{table}{ROWS_SUFFIX}", (),
                f"TABLE ({', '.join(f'{_quoted(n)} {t}' for n, t in relation.columns)})",
                relation.body, "STABLE", f"profile {profile.name}: the rows of the view "
                f"{PROFILE_SCHEMA}.{table} ({note}); run `sge-recon db init` again after a "
                "platform migration that changes what it reads")
            select = f"SELECT {columns} FROM {function}()"
        _raw(conn).execute(f'CREATE VIEW {PROFILE_SCHEMA}."{table}" AS {select}')
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(
            sql.Identifier(PROFILE_SCHEMA, table), sql.Literal(f"profile {profile.name}: {note}")))
        if mapping.absent:
            report.absent[table] = mapping.absent
        else:
            report.views.append(table)
    _create_function(conn, STATUS_LABELS, (), "TABLE (table_name text, column_name text, "
                     "label text, sort_order real)",
                     _status_labels_sql((t, c, e) for t in PROFILE_TABLES
                                        for c, e in relations[t].enums), "STABLE",
                     f"profile {profile.name}: the labels each mapped status's platform enum has "
                     "now (a label added since db init is one the profile does not map)")
    read = sorted({name for pairs in reads.values() for name, _ in pairs})
    _create_function(conn, READS, (), "SETOF text",
                     " UNION ALL ".join(f"SELECT {_string(n)}::text" for n in read) or
                     "SELECT NULL::text WHERE false", "IMMUTABLE",
                     f"profile {profile.name}: the platform tables (and views) its relations read, "
                     "quoted and qualified: sql/privileges.sql grants SELECT on them to the "
                     "readers (a function runs with its reader's rights)")
    _check_ledger_keys(conn, profile, profile.tables["ledger_entries"])
    return report


def _tables_read(conn: DictConnection, body: str) -> list[tuple[str, str]]:
    """The relations a relation's SELECT reads, as PostgreSQL resolves them now: the
    dependencies a plain view of it records (a temporary view, dropped at once); each as
    (schema-qualified name, its name alone), both quoted."""
    probe = "recon_platform_probe"
    _raw(conn).execute(f"CREATE TEMPORARY VIEW {probe} AS {body}")
    rows = conn.execute(
        "SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname) AS name, "
        "quote_ident(c.relname) AS alone FROM pg_depend d "
        "JOIN pg_rewrite w ON w.oid = d.objid AND d.classid = 'pg_rewrite'::regclass "
        "JOIN pg_class c ON c.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE w.ev_class = %s::regclass AND c.oid <> w.ev_class", (f"pg_temp.{probe}",)).fetchall()
    conn.execute(f"DROP VIEW pg_temp.{probe}")
    return [(r["name"], r["alone"]) for r in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _create_function(conn: DictConnection, name: str, arguments: tuple[tuple[str, str], ...],
                     returns: str, body: str, volatility: str, comment: str) -> str:
    """Create ``recon_platform.<name>`` with ``body`` as a string (no dependency is recorded on
    what it names), inlinable (SQL, not strict, no SET, not SECURITY DEFINER), executable only by
    its owner and sge-recon's roles (sql/privileges.sql); its qualified name."""
    tag = "$recon$"
    while tag in body:
        tag = tag[:-1] + "_$"
    qualified = f'{PROFILE_SCHEMA}."{name}"'
    declared = ", ".join(f"{n} {t}" for n, t in arguments)
    signature = f"{qualified}({', '.join(t for _, t in arguments)})"
    _raw(conn).execute(f"CREATE FUNCTION {qualified}({declared}) RETURNS {returns} "
                       f"LANGUAGE sql {volatility} PARALLEL SAFE AS {tag}{body}{tag}")
    conn.execute(f"COMMENT ON FUNCTION {signature} IS {_string(comment)}")
    conn.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    return qualified


def _drop_functions(conn: DictConnection) -> None:
    """The functions of the previous db init (their views are gone): a changed return type cannot
    be replaced in place."""
    for row in conn.execute("SELECT p.oid::regprocedure::text AS f FROM pg_proc p "
                            "WHERE p.pronamespace = to_regnamespace(%s) ORDER BY 1",
                            (PROFILE_SCHEMA,)).fetchall():
        conn.execute(f"DROP FUNCTION {row['f']}")


def _status_labels_sql(enums: Iterable[tuple[str, str, str]]) -> str:
    """The body of profile_status_labels(): per status map over an enum, the labels of the type of
    that name now (Prisma replaces an enum type by a new one of the same name)."""
    parts = [f"SELECT {_string(table)}::text, {_string(column)}::text, e.enumlabel::text, "
             f"e.enumsortorder FROM pg_catalog.pg_enum e "
             f"WHERE e.enumtypid = pg_catalog.to_regtype({_string(enum)})::oid"
             for table, column, enum in enums]
    return " UNION ALL ".join(parts) or \
        "SELECT NULL::text, NULL::text, NULL::text, NULL::real WHERE false"


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


def _view_sql(conn: DictConnection, profile: "Profile", mapping: "TableMapping") -> _Relation:
    contract = contract_columns(mapping.table)
    if mapping.absent:
        # An empty relation of the contract's shape: queries run, every signal on it is
        # `unavailable` (the checks engine reads that from the profile, not from the emptiness).
        cols = ", ".join(f"NULL::{_CAST[f]} AS {c}" for c, f in contract.items())
        return _Relation(f"SELECT {cols} WHERE false")
    _try(conn, f"SELECT 1 FROM {mapping.source} LIMIT 0", profile, mapping.line,
         f"tables.{mapping.table}.from")
    where = f" WHERE ({mapping.where})" if mapping.where else ""
    if mapping.where:
        _try(conn, f"SELECT 1 FROM {mapping.source}{where} LIMIT 0", profile, mapping.line,
             f"tables.{mapping.table}.where")
    relation = _Relation("")
    selected = []
    names = {c.name for c in mapping.columns}
    for column in mapping.columns:
        family = contract.get(column.name)
        native, enum = _check_column(conn, profile, mapping, column, family)
        oid = _type_oid(conn, profile, mapping, column)
        declared = "text" if (mapping.table, column.name) in _TEXT_IDS_ALLOWED and \
            oid in _OIDS["text"] else (_CAST[family] if family else _plain_type(conn, oid))
        expression = column.expression.sql(native=True) if native else column.sql()  # type: ignore[union-attr]
        expression = _UTC_BY_NAME.sub("AT TIME ZONE INTERVAL '00:00'", expression)
        if oid != _UNKNOWN and not isinstance(column.expression, StatusMap):
            expression = _of_type(conn, expression, oid)
        selected.append(f"{expression}::{declared} AS {_quoted(column.name)}")
        relation.columns.append((column.name, declared))
        if isinstance(column.expression, StatusMap):
            # per contract value, the platform's own predicate on its labels: status predicates
            # are rewritten onto these flags (db/status_predicates.py), which PostgreSQL reads
            # as the enum's comparison (its index and statistics); an enum stays an enum here,
            # and a boolean a boolean (`(amount >= 0) IN ('false')` is planned as `amount < 0`,
            # estimated from the column's statistics)
            if enum:
                relation.enums.append((column.name, enum))
            source = column.expression.compared(native)
            for value in dict.fromkeys(column.expression.labels.values()):
                flag = flag_column(column.name, value)[1:-1].replace('""', '"')
                if flag in names:
                    raise ProfileError(
                        f"{profile.where(column.line)}: tables.{mapping.table}.columns.{flag}: "
                        f"the name is taken by the status map of {column.name} (its flag for "
                        f"{value}); rename that column")
                labels = ", ".join(_string(k) for k, v in column.expression.labels.items()
                                   if v == value)
                selected.append(f"({source} IN ({labels})) AS {_quoted(flag)}")
                relation.columns.append((flag, "boolean"))
    if mapping.fingerprint:
        selected.append(f"{_fingerprint(conn, profile, mapping)}::bigint AS {ROW_HASH_COLUMN}")
        relation.columns.append((ROW_HASH_COLUMN, "bigint"))
    relation.body = f"SELECT {', '.join(selected)} FROM {mapping.source}{where}"
    return relation


def _plain_type(conn: DictConnection, oid: int) -> str:
    """The type a relation's column beside the contract's is declared with: the expression's own
    when it is one of PostgreSQL's built-in types (without its length or precision, which a
    platform migration may change), else ``text`` (an enum or a domain of the platform: the
    function must name none of its types)."""
    row = expect_row(conn.execute(
        "SELECT format_type(t.oid, NULL) AS name, t.typnamespace = 'pg_catalog'::regnamespace "
        "AND t.typtype = 'b' AS builtin FROM pg_type t WHERE t.oid = %s", (oid,)).fetchone())
    return row["name"] if row["builtin"] else "text"


def _of_type(conn: DictConnection, expression: str, oid: int) -> str:
    """``expression`` guarded to keep the type it has at db init (any length or precision)."""
    name = expect_row(conn.execute("SELECT format_type(%s, NULL) AS t", (oid,)).fetchone())["t"]
    return f"{PROFILE_SCHEMA}.{OF_TYPE}({expression}, NULL::{name})"


def _fingerprint(conn: DictConnection, profile: "Profile", mapping: "TableMapping") -> str:
    """The per-row hash of the profile's ``fingerprint:`` (ledger_tamper compares its sums with
    the checkpoint's). A record hash: NULLs and column boundaries are part of it, and each
    column is hashed by its type's own hash function (which must exist: checked here), the type
    guarded (a column of another type would hash differently: every program would read as
    tampered). Mixed once more (hashint8extended): a record hash is linear in its columns'
    hashes, so its SUM over rows would not see two entries swap a column's values (migration
    0031; the identity, TableMapping.fingerprint_identity, names this definition)."""
    where = "tables.ledger_entries.fingerprint"
    if ROW_HASH_COLUMN in {c.name for c in mapping.columns}:
        raise ProfileError(f"{profile.where(mapping.fingerprint_line)}: {where}: the column name "
                           f"{ROW_HASH_COLUMN} is taken by the fingerprint; rename that column")
    types, guarded = [], []
    for expression in mapping.fingerprint:
        cur = _try(conn, f"SELECT ({expression}) AS c FROM {mapping.source} LIMIT 0", profile,
                   mapping.fingerprint_line, f"{where}: {expression}")
        oid = cur.description[0].type_code
        types.append(expect_row(conn.execute("SELECT format_type(%s, NULL) AS t",
                                             (oid,)).fetchone())["t"])
        guarded.append(f"({expression})" if oid == _UNKNOWN else
                       _of_type(conn, f"({expression})", oid))
    nulls = ", ".join(f"NULL::{t}" for t in types)
    _try(conn, f"SELECT hash_record_extended(ROW({nulls}), 0)", profile,
         mapping.fingerprint_line, f"{where} ({', '.join(types)})")
    return f"hashint8extended(hash_record_extended(ROW({', '.join(guarded)}), 0), 0)"


def _check_column(conn: DictConnection, profile: "Profile", mapping: "TableMapping",
                  column: "Column", family: str | None) -> tuple[bool, str | None]:
    """Raise the profile's error for a column of the wrong type; for a status map, whether its
    labels are compared natively and (over an enum) the enum type's name (_check_status_map)."""
    where = f"tables.{mapping.table}.columns.{column.name}"
    source: tuple[bool, str | None] = (False, None)
    if isinstance(column.expression, StatusMap):
        source = _check_status_map(conn, profile, mapping, column.expression, where)
    oid = _type_oid(conn, profile, mapping, column)
    if family is None or oid == _UNKNOWN:
        return source  # beside the contract's, or an untyped literal cast to the contract type
    allowed = _OIDS[family] | (_OIDS["text"] if (mapping.table, column.name) in
                               _TEXT_IDS_ALLOWED else set())
    if oid in allowed:
        return source
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
                      status: "StatusMap", where: str) -> tuple[bool, str | None]:
    """Whether the map's labels are compared as the source's own values, and the enum's qualified
    name: (True, enum) over an enum, every label mapped; (True, None) over a boolean, both of
    ``true`` and ``false`` mapped; (False, None) over text (every value maps or shows as
    unmapped:<value>, never NULL)."""
    cur = _try(conn, f"SELECT ({status.source}) AS c FROM {mapping.source} LIMIT 0",
               profile, status.line, f"{where}.from")
    oid = cur.description[0].type_code
    if oid == _BOOLEAN:
        _every_label_mapped(profile, status, where, "boolean", ["true", "false"])
        return True, None
    labels = [r["enumlabel"] for r in conn.execute(
        "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder", (oid,))]
    if not labels:
        return False, None
    type_name = expect_row(conn.execute("SELECT format_type(%s, NULL) AS t",
                                        (oid,)).fetchone())["t"]
    _every_label_mapped(profile, status, where, type_name, labels)
    # qualified: profile_status_labels() looks the type up by this name at every run, and a
    # type of the same name earlier on a reader's search_path must not stand in for it
    return True, expect_row(conn.execute(
        "SELECT format('%%I.%%I', n.nspname, t.typname) AS t FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = %s", (oid,)).fetchone())["t"]


def _every_label_mapped(profile: "Profile", status: "StatusMap", where: str, type_name: str,
                        labels: list[str]) -> None:
    mapped = status.labels
    unmapped = [label for label in labels if label not in mapped]
    unknown = [label for label in mapped if label not in labels]
    if unmapped:
        raise ProfileError(
            f"{profile.where(status.line)}: {where}: the platform's {type_name} has "
            f"label(s) {', '.join(unmapped)} that the map does not name; map each to a contract "
            "value (an unmapped status would hide its rows)")
    if unknown:
        raise ProfileError(
            f"{profile.where(status.line)}: {where}: {', '.join(unknown)} is not a label of "
            f"{type_name} (labels: {', '.join(labels)}); fix the spelling or remove it")


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
    except psycopg.errors.InsufficientPrivilege as exc:  # the login's rights, not the profile
        user = expect_row(conn.execute("SELECT current_user AS u").fetchone())["u"]
        raise InsufficientRights(
            f"`db init` runs as the database user {user}, which may not read the platform's "
            f"tables ({(exc.diag.message_primary or str(exc)).strip()}, read by "
            f"{profile.where(line)}: {where}); nothing was changed. Run it as a login that owns "
            "the platform's tables or holds SELECT on them WITH GRANT OPTION (it grants the "
            "readers SELECT on them)") from None
    except psycopg.Error as exc:
        message = (exc.diag.message_primary or str(exc)).strip()
        raise ProfileError(f"{profile.where(line)}: {where}: the database rejects it: "
                           f"{message}; fix the expression against the platform's tables") \
            from None
