"""The shape of one exported table: which relation, which month filter, and the columns it has
when the source lacks it. The audit export declares its tables with these
(sge_recon/exports/tables.py); the data layer builds each month's query from them
(sge_recon/db/exports.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str            # information_schema data_type (or udt name for arrays/user types)
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str               # file stem and view name in audit.duckdb
    schema: str             # "platform": the active profile's relations (db.relations); or recon
    table: str
    time_column: str        # the month filter: time_column in [start, end)
    description: str
    # Filter through a parent instead: rows whose key is in the parent's rows of the month.
    via: tuple[str, str, str, str] | None = None   # (key, parent schema, parent table, parent ts)
    via_parent_key: str | None = None   # the parent's column that key names (default: key)
    # May be absent from the source: then exported empty with these columns.
    fallback: tuple[Column, ...] = ()
    # Unconstrained numeric columns that are metrics (not money): exported rounded to 6 places.
    rounded: tuple[str, ...] = field(default=())

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"

    @property
    def filtered_on(self) -> str:
        if self.via:
            key, pschema, ptable, pts = self.via
            return f"{key} of {pschema}.{ptable} rows with {pts} in the month"
        return self.time_column
