"""The date and interval styles psycopg can read, pinned on a session that has others."""

from __future__ import annotations

from typing import Any

import psycopg

# psycopg reads timestamptz only in the ISO DateStyle and intervals only in the postgres
# IntervalStyle; a database or role may have set others (ALTER DATABASE … SET datestyle =
# 'SQL, DMY'), and every instant read back (the server's clock included) then raised. The server
# reports both at connect, so only such a session pays the SET; 'ISO' alone keeps the session's
# day/month order, so what the checks' SQL parses is unchanged.
_READABLE_STYLES = (("DateStyle", "ISO", "SET DateStyle = 'ISO'"),
                    ("IntervalStyle", "postgres", "SET IntervalStyle = 'postgres'"))


def pin_readable_styles(conn: psycopg.Connection[Any]) -> None:
    fixes = [sql for name, wanted, sql in _READABLE_STYLES
             if not _reports(conn, name, wanted)]
    for sql in fixes:
        conn.execute(sql)
    if fixes and not conn.autocommit:
        conn.commit()


def _reports(conn: psycopg.Connection[Any], name: str, wanted: str) -> bool:
    """Whether the session's reported ``name`` starts with ``wanted`` (an unreported one, as
    behind a pooler that drops it, is taken as wanted)."""
    status = conn.info.parameter_status(name)
    return status is None or status.startswith(wanted)
