"""A platform profile as data (DESIGN §11): each §4 contract table mapped to the platform's
relations, and the SQL expressions that the contract-shaped views select. The profile reader
(sge_recon/profiles) builds these from a YAML file; the data layer (profile_views.py) turns them
into views. They live here, in the data layer, because they render SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .relations import QueueDeclaration


@dataclass(frozen=True)
class StatusMap:
    source: str                     # SQL expression of the platform's status (usually an enum)
    labels: dict[str, str]          # platform label -> contract value
    line: int

    def sql(self) -> str:
        """A CASE over the labels. A label added to the platform's enum after `db init` shows as
        ``unmapped:<LABEL>``, never as NULL (a NULL status would hide the row from every check)."""
        whens = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in self.labels.items())
        return f"(CASE ({self.source})::text {whens} ELSE 'unmapped:' || ({self.source})::text END)"


@dataclass(frozen=True)
class Column:
    name: str
    expression: str | StatusMap
    line: int

    def sql(self) -> str:
        return self.expression.sql() if isinstance(self.expression, StatusMap) else \
            f"({self.expression})"


@dataclass(frozen=True)
class TableMapping:
    table: str
    line: int
    source: str | None = None
    where: str | None = None
    columns: tuple[Column, ...] = ()
    absent: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path | None
    description: str = ""
    tables: dict[str, TableMapping] = field(default_factory=dict)
    queues: QueueDeclaration | None = None   # optional `queues:` (BullMQ on Redis)
    admin_api: str = "contract"              # optional `admin_api:` (contract | sge)

    @property
    def is_contract(self) -> bool:
        return self.path is None

    def where(self, line: int) -> str:
        return f"{self.path}: line {line}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
