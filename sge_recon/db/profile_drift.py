"""A profile's relations against the platform as it is now, after ``db init`` built them: the
status labels its enums have gained since (every run), and what to say when a relation's function
no longer fits the platform's tables (a platform migration since; db/profile_views.py).
"""

from __future__ import annotations

import re

import psycopg

from ..errors import ProfileDrift, first_line
from .relations import (PROFILE_TABLES, PROFILE_SCHEMA, ROWS_SUFFIX, SEARCH_PATH_STATE,
                        STATUS_LABELS)


def unmapped_status_labels(db, status_labels: tuple) -> dict[str, list[str]]:
    """Contract table -> the platform labels of its mapped statuses that the profile does not map
    (``status_labels``: PlatformRelations.status_labels), as the platform's enum types have them
    now (recon_platform.profile_status_labels(), made by db init). A label the platform added
    after ``db init`` shows as ``unmapped:<label>``, which no check's status predicate names
    (stuck_intents misses an intent stuck in it); a query of the catalogue, cheap enough for
    every run."""
    if not status_labels:
        return {}
    rows = db.fetch_all(f"SELECT table_name, column_name, label FROM {PROFILE_SCHEMA}."
                        f"{STATUS_LABELS}() ORDER BY table_name, column_name, sort_order")
    mapped = {(table, column): {label for _, labels in values for label in labels}
              for table, column, values in status_labels}
    out: dict[str, list[str]] = {}
    for row in rows:
        known = mapped.get((row["table_name"], row["column_name"]))
        if known is not None and row["label"] not in known:
            out.setdefault(row["table_name"], []).append(f'{row["column_name"]} {row["label"]}')
    return out


_PROFILE_RELATION = re.compile(r'"?' + PROFILE_SCHEMA + r'"?\."?(\w+)"?')
_ROWS_FUNCTION = re.compile(r'SQL function "(\w+)' + ROWS_SUFFIX + '"')


def profile_error(exc: psycopg.Error) -> str | None:
    """What to say when a query failed inside a profile relation's function because the platform's
    schema changed under it since ``db init`` (a column dropped or renamed, of another type, an
    enum label the map names gone; PostgreSQL reports it while inlining the function): which
    relation, why, and that ``db init`` must run again. None for any other error (a data error,
    a permission, a timeout: the caller says what it says)."""
    state = exc.sqlstate or ""
    if state == SEARCH_PATH_STATE:  # recon_platform.reads_as_built: its message says it all
        return exc.diag.message_primary or first_line(exc)
    match = _ROWS_FUNCTION.search(exc.diag.context or "")
    schema_change = state.startswith("42") and state != "42501" or (
        state == "22P02" and "enum" in (exc.diag.message_primary or ""))
    if not match or not schema_change:
        return None
    if state == "42P01":  # a table name resolves to nothing: renamed, or not on the path
        return (f"{PROFILE_SCHEMA}.{match.group(1)} cannot find a platform table "
                f"({first_line(exc)}) under this session's search_path: either this login's "
                "search_path lacks the platform's schema (put it back: ALTER ROLE ... SET "
                "search_path; `sge-recon db init` resolved the table there), or a platform "
                "migration renamed or dropped the table since `sge-recon db init` (run it again: "
                "it names the profile line to change)")
    return (f"{PROFILE_SCHEMA}.{match.group(1)} no longer fits the platform's tables "
            f"({first_line(exc)}): the platform's schema changed since `sge-recon db init` built "
            "this relation (a platform migration); run `sge-recon db init` again (it checks the "
            "profile against the new schema and names the line to change, if any)")


def drift_of(db, select: str) -> str | None:
    """What :func:`profile_error` says of ``select`` (a SELECT with no parameters, planned with
    ``EXPLAIN``: nothing is read; then one row of each profile relation it names, which runs
    their search_path guard, profile_guard.py) when it reads a profile relation that no longer
    fits the platform's tables or is refused by that guard; None when all that runs, or fails
    for another reason. For an engine whose driver error arrives as text only (GX, through
    SQLAlchemy), to say it as every reader does."""
    try:
        db.fetch_all("EXPLAIN " + select)
        for table in dict.fromkeys(_PROFILE_RELATION.findall(select)):
            if table in PROFILE_TABLES:  # a known name only: it is spliced into the SQL
                db.fetch_all(f'SELECT 1 FROM {PROFILE_SCHEMA}."{table}" LIMIT 1')
    except ProfileDrift as exc:
        return exc.message
    except psycopg.Error:
        return None
    return None
