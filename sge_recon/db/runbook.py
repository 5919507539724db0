"""The runbook's ticks (recon.runbook_ticks): which operator ticked which item on which day.

Each function takes an open connection (one transaction per page load or action)."""

from __future__ import annotations

from datetime import date

from .rows import all_rows


def ticks(conn, days: list[date], operator: str) -> list[dict]:
    return all_rows(conn, """
        SELECT day, operator, item, ticked_at FROM recon.runbook_ticks
        WHERE day = ANY(%s) AND operator = %s""", (days, operator))


def ticks_by_anyone(conn, days: list[date]) -> list[dict]:
    return all_rows(conn, """
        SELECT day, operator, item, ticked_at FROM recon.runbook_ticks WHERE day = ANY(%s)
        ORDER BY ticked_at""", (days,))


def set_tick(conn, day: date, operator: str, item: str, ticked: bool) -> None:
    if ticked:
        conn.execute("""
            INSERT INTO recon.runbook_ticks (day, operator, item) VALUES (%s, %s, %s)
            ON CONFLICT (day, operator, item) DO NOTHING""", (day, operator, item))
    else:
        conn.execute("DELETE FROM recon.runbook_ticks WHERE day = %s AND operator = %s "
                     "AND item = %s", (day, operator, item))
