"""Loads the check catalogue: ``checks.yml`` plus one ``<name>.sql`` per check.

Strict on purpose: an unknown or missing key, a duplicate name, a ``.sql`` file without an entry
(or the reverse), an unknown parameter or a threshold that can never fire all stop the load with
a message naming the file, so a typo never silently disables a money check.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import CheckDefinitionError
from . import sqltext
from .model import CheckDefinition, FusedQuery, TotalsSpec, ValueSpec
from .thresholds import parse_thresholds

CATALOGUE_FILE = "checks.yml"
MAX_CATALOGUE_BYTES = 1024 * 1024  # the catalogue is ~10 KiB; a bound stops a crafted file early
TIMEOUT_RANGE = (1, 3600)           # timeout_seconds: a check never holds a connection > 1 h
REQUIRED_KEYS = {"description", "priority", "owner", "runbook", "kind", "thresholds"}
OPTIONAL_KEYS = {"fast", "value", "value_if_empty", "timeout_seconds", "caused_by", "fused",
                 "totals"}
FUSED_DIR = "fused"                 # checks/fused/<name>.sql: fused queries (see FusedQuery)
FUSED_PARAMS = frozenset({"sample_limit"})  # bound by the engine for a fused query only
PRIORITIES = ("P0", "P1", "P2", "P3")
KINDS = ("rows", "metric")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys (PyYAML would silently keep the last one)
    and anchors/aliases (a 512-byte alias bomb expands to gigabytes; the catalogue needs none)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise CheckDefinitionError(
                f"{self.name}: line {event.start_mark.line + 1}: YAML {kind}{event.anchor} is not "
                "allowed in checks.yml (anchors and aliases are refused); write each value out")
        return super().compose_node(parent, index)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise CheckDefinitionError(
                f"{loader.name}: line {key_node.start_mark.line + 1}: a key must be plain text "
                f"(a check name or setting), not a {type(key).__name__}")
        if key in seen:
            raise CheckDefinitionError(
                f"{loader.name}: line {key_node.start_mark.line + 1}: duplicate name {key!r} "
                f"(first at line {seen[key] + 1}); each check and key appears once")
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def load_catalogue(directory: Path, params: Mapping[str, Decimal | int]) -> list[CheckDefinition]:
    """Every check of the catalogue in ``directory``, in checks.yml order."""
    directory = Path(directory)
    yml = directory / CATALOGUE_FILE
    if not yml.is_file():
        raise CheckDefinitionError(f"{yml}: not found; set CHECKS_DIR to the folder holding "
                                   f"{CATALOGUE_FILE} and the check .sql files")
    entries = _read_yaml(yml)
    for name in entries:
        if not isinstance(name, str):  # YAML 1.1 reads off:, on:, yes:, no:, null: as such
            raise CheckDefinitionError(
                f"{yml}: check name {name!r} is not text: YAML reads an unquoted on, off, yes, "
                "no, true, false or null as a boolean or null, and a number as a number; quote "
                "the name (e.g. 'off':) or choose another")
    sql_files = {p.stem: p for p in sorted(directory.glob("*.sql"))}
    missing_entries = sorted(set(sql_files) - set(entries))
    if missing_entries:
        raise CheckDefinitionError(
            f"{yml}: no entry for {', '.join(f'{n}.sql' for n in missing_entries)}; add one "
            "(description, priority, owner, runbook, kind, thresholds) or delete the file")
    definitions = [_definition(name, entry, yml, sql_files.get(name), params)
                   for name, entry in entries.items()]
    for d in definitions:
        unknown = sorted(set(d.caused_by) - set(entries))
        if unknown:
            raise CheckDefinitionError(f"{yml}: {d.name}: caused_by names unknown check(s) "
                                       f"{', '.join(unknown)}")
    return definitions


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_CATALOGUE_BYTES:
            raise CheckDefinitionError(f"{path}: {size} bytes, larger than the "
                                       f"{MAX_CATALOGUE_BYTES} bytes a check catalogue may have; "
                                       "is it the right file?")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckDefinitionError(f"{path}: cannot be read ({exc})") from None
    try:
        data = copy.deepcopy(_parse_yaml(text, str(path)))
    except yaml.YAMLError as exc:
        raise CheckDefinitionError(f"{path}: not valid YAML ({_one_line(exc)}); fix the file") \
            from None
    except RecursionError:
        raise CheckDefinitionError(f"{path}: nested too deeply to be a check catalogue") from None
    if not isinstance(data, dict) or not data:
        raise CheckDefinitionError(f"{path}: must map check names to their entries")
    return data


@functools.lru_cache(maxsize=8)
def _parse_yaml(text: str, name: str) -> Any:
    """The parsed catalogue text. The file is still read every time (the file is the truth); only
    the parse of text already seen is reused (it costs ~60 ms, once per Overview refresh)."""
    loader = _UniqueKeyLoader(text)  # a SafeLoader subclass
    loader.name = name  # marks and messages name the file
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _definition(name: Any, entry: Any, yml: Path, sql_path: Path | None,
                params: Mapping[str, Decimal | int]) -> CheckDefinition:
    where = f"{yml}: {name}"
    if not isinstance(name, str) or not NAME.match(name):
        raise CheckDefinitionError(f"{yml}: check name {name!r} must be lower_snake_case")
    if not isinstance(entry, dict):
        raise CheckDefinitionError(f"{where}: must be a mapping of keys "
                                   f"({', '.join(sorted(REQUIRED_KEYS))})")
    unknown = sorted(set(entry) - REQUIRED_KEYS - OPTIONAL_KEYS)
    if unknown:
        raise CheckDefinitionError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: "
            f"{', '.join(sorted(REQUIRED_KEYS | OPTIONAL_KEYS))}")
    missing = sorted(REQUIRED_KEYS - set(entry))
    if missing:
        raise CheckDefinitionError(f"{where}: missing key(s) {', '.join(missing)}")
    if sql_path is None:
        raise CheckDefinitionError(f"{where}: no {name}.sql beside {yml.name}; write the SELECT "
                                   "that returns the failing rows")
    priority, kind = entry["priority"], entry["kind"]
    if priority not in PRIORITIES:
        raise CheckDefinitionError(f"{where}: priority must be one of {', '.join(PRIORITIES)}, "
                                   f"got {priority!r}")
    if kind not in KINDS:
        raise CheckDefinitionError(f"{where}: kind must be rows or metric, got {kind!r}")
    for key in ("description", "owner", "runbook"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CheckDefinitionError(f"{where}: {key} must be non-empty text")
    value = _value_spec(entry, where)
    if kind == "metric" and value is None:
        raise CheckDefinitionError(f"{where}: a metric check needs `value:` (e.g. max(value))")
    # A bad .sql file breaks only its own check (status error at run time), never the catalogue.
    sql, problem = _read_sql(sql_path, params)
    thresholds = parse_thresholds(entry["thresholds"], params, where=where,
                                  has_value=value is not None, counts_rows=kind == "rows")
    fast = entry.get("fast", False)
    timeout = entry.get("timeout_seconds", 300)
    if not isinstance(fast, bool):
        raise CheckDefinitionError(f"{where}: fast must be true or false")
    low, high = TIMEOUT_RANGE
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not low <= timeout <= high:
        raise CheckDefinitionError(f"{where}: timeout_seconds must be a whole number from {low} "
                                   f"to {high}, got {timeout!r}")
    fused = entry.get("fused")
    if fused is not None:
        if not isinstance(fused, str) or not NAME.match(fused):
            raise CheckDefinitionError(f"{where}: fused must name a fused query (lower_snake_case, "
                                       f"the file {FUSED_DIR}/<name>.sql beside {yml.name})")
        if not (yml.parent / FUSED_DIR / f"{fused}.sql").is_file():
            raise CheckDefinitionError(f"{where}: fused: {fused}: no {FUSED_DIR}/{fused}.sql "
                                       f"beside {yml.name}; write it or remove the key")
        if kind != "rows" or value is not None:
            raise CheckDefinitionError(f"{where}: fused: only a rows check without `value:` can "
                                       "take its result from a fused query")
    totals = _totals_spec(entry, where, params, kind)
    caused_by = entry.get("caused_by", [])
    if not isinstance(caused_by, list) or not all(
            isinstance(c, str) and NAME.match(c) and c != name for c in caused_by):
        raise CheckDefinitionError(f"{where}: caused_by must be a list of other checks' names "
                                   "(e.g. [worker_status])")
    return CheckDefinition(name=name, description=entry["description"].strip(),
                           priority=priority, owner=entry["owner"].strip(),
                           runbook=entry["runbook"].strip(), kind=kind, fast=fast,
                           thresholds=thresholds, sql=sql, value=value,
                           timeout_seconds=timeout, path=sql_path, problem=problem,
                           caused_by=tuple(caused_by), fused=fused, totals=totals)


def load_fused(directory: Path, definitions: list[CheckDefinition],
               params: Mapping[str, Decimal | int]) -> list[FusedQuery]:
    """The fused queries of the catalogue in ``directory`` (``fused/<name>.sql``), each with the
    checks that name it (``fused: <name>``), in catalogue order. A file no check names stops the
    load (like a check .sql without an entry); a file that cannot run is kept with its
    ``problem``: its members then run one by one, from their own files."""
    folder = Path(directory) / FUSED_DIR
    files = {p.stem: p for p in sorted(folder.glob("*.sql"))} if folder.is_dir() else {}
    members: dict[str, list[str]] = {}
    for d in definitions:
        if d.fused is not None:
            members.setdefault(d.fused, []).append(d.name)
    unused = sorted(set(files) - set(members))
    if unused:
        raise CheckDefinitionError(
            f"{folder}: no check names {', '.join(f'{n}.sql' for n in unused)} (`fused: <name>` "
            f"in {CATALOGUE_FILE}); name it from its member checks or delete the file")
    out = []
    by_name = {d.name: d for d in definitions}
    for name, names in members.items():
        sql, problem = _read_sql(files[name], {**params, **{p: 0 for p in FUSED_PARAMS}})
        problem = problem or stale_mirror(files[name], [by_name[n] for n in names])
        out.append(FusedQuery(name=name, sql=sql, members=tuple(names), path=files[name],
                              problem=problem))
    return out


_MIRRORS = re.compile(r"^--\s+([a-z][a-z0-9_]*)\s+sha256:([0-9a-f]{64})\s*$", re.MULTILINE)


def stale_mirror(path: Path, members: list[CheckDefinition]) -> str | None:
    """Why the file at ``path`` (a fused query, or a check's DuckDB form under checks/duckdb/) no
    longer mirrors its members, or None. The file lists each member's .sql as
    ``--   <name> sha256:<hex>``; a member whose file differs (edited since the mirror was
    written) makes the mirror stand aside, so that a check's own .sql always decides its
    result."""
    try:
        declared = dict(_MIRRORS.findall(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        return f"{path}: cannot be read ({exc})"
    stale = []
    for d in members:
        try:
            actual = hashlib.sha256(d.path.read_bytes()).hexdigest() if d.path else None
        except OSError:
            actual = None
        if declared.get(d.name) != actual:
            stale.append(f"{d.name} (now sha256:{actual})")
    if stale:
        return (f"{path}: does not mirror the current {', '.join(stale)}; bring it in line with "
                "those files and update their sha256 lines (until then they run one by one)")
    return None


def _read_sql(path: Path, params: Mapping[str, Decimal | int]) -> tuple[str, str | None]:
    try:
        # utf-8-sig: an editor's byte order mark is not SQL (it made the check "not a SELECT")
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return "", f"{path}: cannot be read ({exc})"
    return _checked_sql(raw, str(path), frozenset(params))


@functools.lru_cache(maxsize=256)
def _checked_sql(raw: str, path: str, known: frozenset[str]) -> tuple[str, str | None]:
    """The cleaned SELECT of a check's text and its problem, if any. Like :func:`_parse_yaml`,
    only the work on text already seen is reused (the file is read every time): tokenizing the
    catalogue's SQL cost ~0.1 s per load, and every live check on a console page loads it twice."""
    try:
        sql = sqltext.clean_select(raw, path)
    except CheckDefinitionError as exc:
        return raw, exc.message
    unknown = sorted(sqltext.placeholders(sql) - known)
    if unknown:
        return sql, (f"{path}: unknown parameter(s) {', '.join(':' + p for p in unknown)}; "
                     f"known: {', '.join(':' + p for p in sorted(known))}")
    return sql, None


def _value_spec(entry: dict, where: str) -> ValueSpec | None:
    if "value" not in entry:
        if "value_if_empty" in entry:
            raise CheckDefinitionError(f"{where}: value_if_empty needs a `value:`")
        return None
    if_empty = None
    if entry.get("value_if_empty") is not None:
        try:
            if_empty = Decimal(str(entry["value_if_empty"]))
        except InvalidOperation:
            raise CheckDefinitionError(f"{where}: value_if_empty must be a number") from None
        if not if_empty.is_finite():  # .nan / .inf: no threshold can judge it
            raise CheckDefinitionError(f"{where}: value_if_empty must be a finite number, got "
                                       f"{entry['value_if_empty']!r}")
    spec = ValueSpec.parse(str(entry["value"]), if_empty)
    if spec is None:
        raise CheckDefinitionError(f"{where}: value {entry['value']!r} must be an aggregate of "
                                   "a column of the rows: count|min|max|sum|avg(column)")
    return spec


def _totals_spec(entry: dict, where: str, params: Mapping[str, Decimal | int],
                 kind: str) -> tuple[TotalsSpec, ...]:
    if "totals" not in entry:
        return ()
    given = entry["totals"]
    if not isinstance(given, dict) or not given:
        raise CheckDefinitionError(f"{where}: totals must map names to totals, e.g. "
                                   "{money: sum(amount) by currency}")
    if kind != "rows":
        raise CheckDefinitionError(f"{where}: totals: only a rows check has failing rows to total")
    out = []
    for name, text in given.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise CheckDefinitionError(f"{where}: totals: name {name!r} must be lower_snake_case")
        spec = TotalsSpec.parse(name, str(text))
        if spec is None:
            raise CheckDefinitionError(
                f"{where}: totals: {name}: {text!r} must read `sum(<column>) by <column>` (the "
                "summed column may be abs(<column>)), optionally followed by `where <column> "
                "<op> <number or parameter>`, op one of > >= < <=")
        if spec.bound_is_parameter and spec.where_bound not in params:
            raise CheckDefinitionError(f"{where}: totals: {name}: unknown parameter "
                                       f"{spec.where_bound}; known: {', '.join(sorted(params))}")
        out.append(spec)
    return tuple(out)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
