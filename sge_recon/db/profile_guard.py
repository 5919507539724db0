"""The search_path guard of a profile's relations (db/profile_views.py).

A relation's function names the platform's tables as the profile writes them (``"Intent"``), and
PostgreSQL resolves those names with the reader's ``search_path`` at each query: a table of the
same name in a schema earlier on it (``"$user"`` comes first by default: a schema named after
the login) would be read in the platform's place, and a check would pass on its rows silently.
Each function's body therefore ends with a call of ``recon_platform.reads_as_built(...)``, which
compares what each name resolves to now with the table ``db init`` read, and refuses (SQLSTATE
RP001, said by profile_drift.profile_error) when they differ. The call is a scalar subquery of
constants, so the inlined query evaluates it once (an InitPlan, a one-time filter) wherever the
relation is used, the inner side of an outer join included (a bare call was a join filter there,
one plpgsql call per row), and keeps the platform's indexes (tests/test_profile_search_path.py
measures both).
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from .connection import DictConnection
from .relations import PROFILE_SCHEMA, SEARCH_PATH_STATE

RESOLVES = "reads_as_built"  # recon_platform.reads_as_built(relation, names, built)

_BODY = """
DECLARE i int; found regclass; where_found text;
BEGIN
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    found := pg_catalog.to_regclass(names[i]);
    IF found IS NOT NULL AND found IS DISTINCT FROM pg_catalog.to_regclass(built[i]) THEN
      SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO where_found
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid = found;
      RAISE EXCEPTION USING ERRCODE = '{state}', MESSAGE = pg_catalog.format(
        '{schema}.%s reads %s, which this session''s search_path (%s) resolves to %s, not to '
        '%s that `sge-recon db init` read: a table of that name in a schema earlier on the '
        'search_path; drop or rename it, or put the platform''s schema first on this login''s '
        'search_path (ALTER ROLE ... SET search_path); nothing was read', relation, names[i],
        pg_catalog.current_setting('search_path'), where_found, built[i]);
    END IF;
  END LOOP;
  RETURN true;
END
"""


def create_resolves_guard(conn: DictConnection) -> None:
    """(Re)create recon_platform.reads_as_built(relation, names, built): true, or the error
    RP001 when one of ``names`` (platform tables as the body names them, unqualified) resolves
    under the session's search_path to another table than ``built`` (qualified, as db init
    resolved them); a name that resolves to nothing is the body's own error."""
    qualified = f'{PROFILE_SCHEMA}."{RESOLVES}"'
    body = _BODY.format(state=SEARCH_PATH_STATE, schema=PROFILE_SCHEMA)
    cur = psycopg.Cursor(conn, row_factory=dict_row)  # SQL as written: no platform.<table>
    cur.execute(f"CREATE FUNCTION {qualified}(relation text, names text[], built text[]) "
                f"RETURNS boolean LANGUAGE plpgsql STABLE PARALLEL SAFE AS $guard${body}$guard$")
    signature = f"{qualified}(text, text[], text[])"
    cur.execute(f"COMMENT ON FUNCTION {signature} IS " + _string(
        "sge-recon: refuses to read a platform table through a profile relation when the "
        "session's search_path resolves its name to another table than db init read (a table "
        "of the same name earlier on the search_path)"))
    cur.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def resolves_guard(table: str, read: list[tuple[str, str]]) -> str:
    """The call of the guard that ends the body of ``table``'s function, for the tables it reads
    (qualified name, name alone)."""
    names = ", ".join(_string(alone) for _, alone in read)
    built = ", ".join(_string(name) for name, _ in read)
    # a scalar subquery: an InitPlan, run once per query wherever the relation is used. A bare
    # call is a one-time filter only where the relation is not on the nullable side of an outer
    # join; there it was a join filter, run per row (483 000 plpgsql calls: +0.3 s in
    # commission_accuracy at 2 M SGE entries)
    return (f"(SELECT {PROFILE_SCHEMA}.{RESOLVES}({_string(table)}, ARRAY[{names}]::text[], "
            f"ARRAY[{built}]::text[]))")


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
