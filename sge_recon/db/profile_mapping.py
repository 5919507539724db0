"""A platform profile as data (DESIGN §11): each §4 contract table mapped to the platform's
relations, and the SQL expressions that the contract-shaped views select. The profile reader
(sge_recon/profiles) builds these from a YAML file; the data layer (profile_views.py) turns them
into views. They live here, in the data layer, because they render SQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .relations import CONTRACT_FINGERPRINT, QueueDeclaration


@dataclass(frozen=True)
class StatusMap:
    source: str                     # SQL expression of the platform's status (usually an enum)
    labels: dict[str, str]          # platform label -> contract value
    line: int

    def sql(self, native: bool = False) -> str:
        """A CASE over the labels. A label added to the platform's enum after `db init` shows as
        ``unmapped:<LABEL>``, never as NULL (a NULL status would hide the row from every check).
        Over an enum or a boolean (``native``, known once db init has read the catalogue and
        validated the labels) the labels are compared as the source's own values (an OID
        comparison, ``true``/``false``), not as text: a cast to text per row costs three times
        as much at 400 000 intents."""
        whens = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in self.labels.items())
        return (f"(CASE {self.compared(native)} {whens} "
                f"ELSE 'unmapped:' || ({self.source})::text END)")

    def compared(self, native: bool = False) -> str:
        """The source as its labels are compared with: itself, or its text."""
        return f"({self.source})" if native else f"({self.source})::text"


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
    # ledger_entries only: what orders the entries for the checkpoint ("created_at": their time;
    # "cuid": the id, a cuid whose first 9 characters are its creation time, so that the
    # platform's primary key serves the range scans), and the extra columns that identify a
    # journal transaction one-to-one (so that the platform's own index on them serves lookups)
    order: str = "created_at"
    order_line: int = 0
    journal_key: tuple[str, ...] = ()
    journal_key_line: int = 0
    # What a change of an entry is, for ledger_tamper: the platform's own columns (expressions
    # over `from`) hashed per row. Empty: the contract columns, as on the contract platform.
    fingerprint: tuple[str, ...] = ()
    fingerprint_line: int = 0

    @property
    def fingerprint_identity(self) -> str:
        """What the checkpoint's fingerprints were summed over (recon.ledger_checkpoint.
        fingerprinted_by): a checkpoint built under another definition is rebuilt, or every
        program would read as tampered."""
        if not self.fingerprint:
            return CONTRACT_FINGERPRINT
        # the hash's definition (db/profile_views.py: the mixed record hash) and the columns
        definition = ("record-mixed",) + self.fingerprint
        digest = hashlib.sha256("\x1f".join(definition).encode()).hexdigest()[:16]
        return f"source:{digest}"


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
