"""Reading a platform profile file (format: docs/profiles.md).

A profile maps each §4 contract table either to the platform's relations::

    tables:
      ledger_entries:
        from: '"LedgerEntry" e'                 # a relation with an alias; joins allowed
        where: e.currency IS NOT NULL           # optional filter
        columns:
          id: e.id                              # one SQL expression per contract column
          type: "CASE WHEN e.amount >= 0 THEN 'debit' ELSE 'credit' END"
          status:                               # a status map: every label of the source enum
            from: i.status                      #   must be mapped (checked by `db init`)
            map: {PENDING: payment_pending, PROCESSING: processing}

or declares it absent, with the reason the console and the checks show::

      webhook_deliveries:
        absent: the SGE platform sends no outbound webhooks

Every error names the file and line of the entry and says what to change. Aliases and anchors are
refused (a profile is small; an alias bomb is not), and so are unknown keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..config import project_root
from ..db.contract import contract_columns
from ..db.profile_mapping import Column, Profile, StatusMap, TableMapping
from ..db.relations import (ADMIN_APIS, CONTRACT_TABLES, NOT_MAPPED, PROFILE_TABLES,
                            QueueDeclaration)
from ..errors import ProfileError

# The profile's data classes live in the data layer (they render SQL); re-exported here, where
# they are read from a file.
__all__ = ["Column", "Profile", "StatusMap", "TableMapping", "load_profile", "profile_path"]

SHIPPED = ("contract", "sge")
MAX_PROFILE_BYTES = 1 << 20
TOP_KEYS = {"profile", "description", "tables", "queues", "admin_api"}
QUEUE_KEYS = {"kind", "settlement_queue", "queues", "prefix"}
QUEUE_KINDS = ("bullmq",)
TABLE_KEYS = {"from", "where", "columns", "absent"}
# ledger_entries alone may say how its rows are ordered and found (docs/profiles.md, "Speed"):
LEDGER_KEYS = {"order", "journal_key", "fingerprint"}
LEDGER_ORDERS = ("created_at", "cuid")
MAP_KEYS = {"from", "map"}


def profile_path(value: str) -> Path | None:
    """The file of a PLATFORM_PROFILE value (None for the built-in contract profile)."""
    if value == "contract":
        return None
    if value in SHIPPED:
        return project_root() / "profiles" / f"{value}.yml"
    return Path(value).expanduser().resolve()


def load_profile(value: str) -> Profile:
    path = profile_path(value)
    if path is None:
        return Profile(name="contract", path=None, description="the §4 tables in public")
    root = _compose(path, value)
    return _profile(root, path)


def _compose(path: Path, value: str) -> yaml.MappingNode:
    if not path.is_file():
        raise ProfileError(
            f"PLATFORM_PROFILE: {value!r} is neither a shipped profile ({', '.join(SHIPPED)}) nor "
            f"a readable file ({path}); name one of those or the path of your profile file")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise ProfileError(f"{path}: larger than {MAX_PROFILE_BYTES // 1024} KiB; a profile maps "
                           "16 tables and is far smaller: is this the right file?")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"PLATFORM_PROFILE: cannot read the profile file {path} "
                           f"({exc.strerror}); make it readable by this user, or name a shipped "
                           f"profile ({', '.join(SHIPPED)})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"PLATFORM_PROFILE: the profile file {path} is not UTF-8 text, so not "
                           "a YAML profile; is this the right file?") from None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                assert event.start_mark is not None  # the parser marks every event it yields
                raise ProfileError(f"{path}: line {event.start_mark.line + 1}: anchors and "
                                   "aliases are not allowed in a profile; write each value out")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({_first_line(exc)}); fix the file") from None
    if not isinstance(root, yaml.MappingNode):
        raise ProfileError(f"{path}: must be a mapping with keys profile, description, tables")
    return root


def _profile(root: yaml.MappingNode, path: Path) -> Profile:
    top = _mapping(root, path, "the profile", TOP_KEYS, required={"profile", "tables"})
    name = _text(top["profile"], path, "profile")
    tables_node = top["tables"]
    entries = _mapping(tables_node, path, "tables", set(PROFILE_TABLES), required=set())
    missing = [t for t in CONTRACT_TABLES if t not in entries]
    if missing:
        raise ProfileError(
            f"{path}: line {tables_node.start_mark.line + 1}: tables: no entry for "
            f"{', '.join(missing)}; map each contract table or declare it `absent: <reason>`")
    # an optional table that the profile does not name is absent (its checks `unavailable`)
    tables = {t: _table(t, entries[t], path) if t in entries else
              TableMapping(t, tables_node.start_mark.line + 1, absent=NOT_MAPPED[t])
              for t in PROFILE_TABLES}
    description = _text(top["description"], path, "description") if "description" in top else ""
    queues = _queues(top["queues"], path) if "queues" in top else None
    admin_api = "contract"
    if "admin_api" in top:
        admin_api = _text(top["admin_api"], path, "admin_api")
        if admin_api not in ADMIN_APIS:
            raise ProfileError(f"{path}: line {top['admin_api'].start_mark.line + 1}: admin_api: "
                               f"unknown admin API {admin_api!r}; use one of "
                               f"{', '.join(ADMIN_APIS)}")
    return Profile(name=name, path=path, description=description, tables=tables, queues=queues,
                   admin_api=admin_api)


def _queues(node: yaml.Node, path: Path) -> QueueDeclaration:
    """``queues: {kind: bullmq, settlement_queue: intents, queues: [...], prefix: bull}``."""
    line = node.start_mark.line + 1
    keys = _mapping(node, path, "queues", QUEUE_KEYS, required={"kind", "settlement_queue"})
    kind = _text(keys["kind"], path, "queues.kind")
    if kind not in QUEUE_KINDS:
        raise ProfileError(f"{path}: line {keys['kind'].start_mark.line + 1}: queues.kind: "
                           f"unknown queue kind {kind!r}; use {', '.join(QUEUE_KINDS)}")
    settlement = _text(keys["settlement_queue"], path, "queues.settlement_queue")
    names: list[str] = [settlement]
    if "queues" in keys:
        seq = keys["queues"]
        if not isinstance(seq, yaml.SequenceNode) or not seq.value:
            raise ProfileError(f"{path}: line {seq.start_mark.line + 1}: queues.queues must be a "
                               "non-empty list of queue names, e.g. [intents, payouts]")
        names = [_text(n, path, "queues.queues[]") for n in seq.value]
        if len(set(names)) != len(names):
            raise ProfileError(f"{path}: line {seq.start_mark.line + 1}: queues.queues names a "
                               "queue twice")
        if settlement not in names:
            raise ProfileError(f"{path}: line {line}: queues: settlement_queue {settlement!r} "
                               f"is not in queues ({', '.join(names)}); add it to the list")
    for n in names:
        if ":" in n or any(c.isspace() for c in n):
            raise ProfileError(f"{path}: line {line}: queues: queue name {n!r} may not contain "
                               "':' or spaces (BullMQ keys are <prefix>:<queue>:...)")
    prefix = _text(keys["prefix"], path, "queues.prefix") if "prefix" in keys else "bull"
    return QueueDeclaration(kind=kind, settlement_queue=settlement, queues=tuple(names),
                            prefix=prefix)


def _table(table: str, node: yaml.Node, path: Path) -> TableMapping:
    line = node.start_mark.line + 1
    allowed = TABLE_KEYS | (LEDGER_KEYS if table == "ledger_entries" else set())
    keys = _mapping(node, path, f"tables.{table}", allowed, required=set())
    if "absent" in keys:
        extra = sorted(set(keys) - {"absent"})
        if extra:
            raise ProfileError(f"{path}: line {line}: tables.{table}: `absent` stands alone; "
                               f"remove {', '.join(extra)} or the `absent` line")
        return TableMapping(table, line, absent=_text(keys["absent"], path,
                                                       f"tables.{table}.absent"))
    for key in ("from", "columns"):
        if key not in keys:
            raise ProfileError(f"{path}: line {line}: tables.{table}: missing `{key}`; a mapped "
                               "table needs `from` (its relations) and `columns`, or write "
                               "`absent: <reason>`")
    columns_node = keys["columns"]
    columns = _mapping(columns_node, path, f"tables.{table}.columns", None, required=set())
    contract = contract_columns(table)
    missing = [c for c in contract if c not in columns]
    if missing:
        raise ProfileError(
            f"{path}: line {columns_node.start_mark.line + 1}: tables.{table}.columns: no "
            f"expression for {', '.join(missing)}; the contract needs every column (write NULL "
            "with a cast, e.g. NULL::text, where the platform has nothing)")
    mapped = tuple(_column(table, c, n, path) for c, n in columns.items())
    return TableMapping(
        table, line, source=_text(keys["from"], path, f"tables.{table}.from"),
        where=_text(keys["where"], path, f"tables.{table}.where") if "where" in keys else None,
        columns=mapped, **_ledger_keys(keys, mapped, path))


def _ledger_keys(keys: dict[str, yaml.Node], columns: tuple[Column, ...], path: Path) -> dict:
    """``order``, ``journal_key`` and ``fingerprint`` of tables.ledger_entries (shape only; db
    init checks them against the rows and the catalogue)."""
    out: dict[str, Any] = {}
    if "fingerprint" in keys:
        node = keys["fingerprint"]
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise ProfileError(f"{path}: line {line}: tables.ledger_entries.fingerprint must be "
                               "a non-empty list of SQL expressions over `from`, e.g. "
                               "[e.id, e.amount, e.account]")
        exprs = tuple(_text(n, path, "tables.ledger_entries.fingerprint[]") for n in node.value)
        if len(set(exprs)) != len(exprs):
            raise ProfileError(f"{path}: line {line}: tables.ledger_entries.fingerprint names an "
                               "expression twice")
        out.update(fingerprint=exprs, fingerprint_line=line)
    if "order" in keys:
        node = keys["order"]
        order = _text(node, path, "tables.ledger_entries.order")
        if order not in LEDGER_ORDERS:
            raise ProfileError(f"{path}: line {node.start_mark.line + 1}: tables.ledger_entries."
                               f"order: unknown order {order!r}; use {' or '.join(LEDGER_ORDERS)}")
        out.update(order=order, order_line=node.start_mark.line + 1)
    if "journal_key" in keys:
        node = keys["journal_key"]
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise ProfileError(f"{path}: line {line}: tables.ledger_entries.journal_key must be a "
                               "non-empty list of the table's column names, e.g. [ref_type, ref_id]")
        names = tuple(_text(n, path, "tables.ledger_entries.journal_key[]") for n in node.value)
        known = {c.name for c in columns}
        unknown = [n for n in names if n not in known]
        if unknown or len(set(names)) != len(names):
            raise ProfileError(f"{path}: line {line}: tables.ledger_entries.journal_key: "
                               f"{', '.join(unknown) or 'a column named twice'} is not one of its "
                               "columns; name columns of tables.ledger_entries.columns, once each")
        if "transaction_id" in names:
            raise ProfileError(f"{path}: line {line}: tables.ledger_entries.journal_key names "
                               "the columns that transaction_id is made of, not transaction_id")
        out.update(journal_key=names, journal_key_line=line)
    return out


def _column(table: str, name: str, node: yaml.Node, path: Path) -> Column:
    where = f"tables.{table}.columns.{name}"
    line = node.start_mark.line + 1
    if not name.replace("_", "").isalnum() or not name[:1].isalpha() or name != name.lower():
        raise ProfileError(f"{path}: line {line}: {where}: a column name is lower_snake_case")
    if isinstance(node, yaml.MappingNode):
        keys = _mapping(node, path, where, MAP_KEYS, required=MAP_KEYS)
        map_node = keys["map"]
        pairs = _mapping(map_node, path, f"{where}.map", None, required=set())
        labels = {label: _text(v, path, f"{where}.map.{label}") for label, v in pairs.items()}
        if not labels:
            raise ProfileError(f"{path}: line {line}: {where}.map is empty; map every label")
        return Column(name, StatusMap(_text(keys["from"], path, f"{where}.from"), labels, line),
                      line)
    return Column(name, _text(node, path, where), line)


def _mapping(node: yaml.Node, path: Path, where: str, allowed: set[str] | None,
             required: set[str]) -> dict[str, yaml.Node]:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise ProfileError(f"{path}: line {line}: {where} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        key_line = key_node.start_mark.line + 1
        if not isinstance(key, str) or not key:
            raise ProfileError(f"{path}: line {key_line}: {where}: keys are plain names")
        if key in out:
            raise ProfileError(f"{path}: line {key_line}: {where}: {key!r} appears twice")
        if allowed is not None and key not in allowed:
            raise ProfileError(f"{path}: line {key_line}: {where}: unknown key {key!r}; allowed: "
                               f"{', '.join(sorted(allowed))}")
        out[key] = value_node
    missing = sorted(required - set(out))
    if missing:
        raise ProfileError(f"{path}: line {line}: {where}: missing {', '.join(missing)}")
    return out


def _text(node: yaml.Node, path: Path, where: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise ProfileError(f"{path}: line {node.start_mark.line + 1}: {where} must be "
                           "non-empty text")
    return str(node.value).strip()


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
