"""Which audit exports the columnar engine (``check --engine duckdb``) may read: the period
folders under EXPORTS_DIR whose manifest reads and whose ledger file is the one it lists (bytes,
sha256 and row count, as ``export verify`` checks them) with money as decimal(38,6). Each comes
with its ledger file's fingerprint; the engine then proves it against PostgreSQL's rows of the
month (sge_recon.db.columnar), which is what makes the sweep exact. The rest of ``export
verify`` (every other file, control totals, the journal chain) is not repeated on every run: it
says nothing about the ledger rows that the proof does not already check."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..db import columnar
from ..errors import ReconError
from .manifest import read_manifest, sha256_of
from .tables import LEDGER


CACHE_FILE = "columnar-fingerprints.json"


def usable_months(out_dir: Path | str, cache_dir: Path | str | None = None
                  ) -> tuple[list[columnar.MonthFile], dict[str, str]]:
    """The verified exported months (oldest first) and, per month not used, why.

    A ledger file's fingerprint depends only on its bytes: it is kept in ``cache_dir`` (the
    sge-recon home) under the file's sha256, checked on every run, so that an export is hashed
    once, not every night."""
    from . import ExportService
    from .period import parse_period

    months, skipped = [], {}
    cache = _Cache(Path(cache_dir) / CACHE_FILE if cache_dir else None)
    for summary in sorted(ExportService(out_dir=out_dir).list_periods(), key=lambda s: s.period):
        label = summary.period
        if summary.problem:
            skipped[label] = summary.problem
            continue
        path = summary.directory / f"{LEDGER}.parquet"
        try:
            problem, digest = _ledger_file(summary.directory, path)
        except ReconError as exc:
            problem, digest = f"cannot be verified: {exc.message}", ""
        if problem:
            skipped[label] = problem
            continue
        money = columnar.parquet_money_type(path)
        if money != columnar.MONEY_TYPE:
            skipped[label] = f"its ledger amounts are {money}, not {columnar.MONEY_TYPE}"
            continue
        period = parse_period(label)
        months.append(columnar.MonthFile(label, period.start, period.end, path,
                                         cache.fingerprint(path, digest)))
    cache.save()
    return months, skipped


class _Cache:
    """sha256 of a ledger file -> its fingerprint (sge_recon.db.columnar), in one JSON file."""

    def __init__(self, path: Path | None):
        self.path, self.changed = path, False
        self.entries: dict[str, list[int]] = {}
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and loaded.get("version") == columnar.FINGERPRINT:
                    self.entries = loaded.get("files") or {}
            except (OSError, ValueError):
                self.entries = {}  # a damaged cache is rebuilt

    def fingerprint(self, path: Path, sha256: str) -> tuple[int, int]:
        cached = self.entries.get(sha256)
        if isinstance(cached, list) and len(cached) == 2 and all(isinstance(x, int) for x in cached):
            return cached[0], cached[1]
        value = columnar.file_fingerprint(path)
        self.entries[sha256], self.changed = list(value), True
        return value

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps({"version": columnar.FINGERPRINT,
                                           "files": self.entries}), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            pass  # only a cache: the next run hashes again


def _ledger_file(folder: Path, path: Path) -> tuple[str | None, str]:
    """Why the ledger file is not the one the manifest lists (or None), and its sha256."""
    entry = next((f for f in read_manifest(folder)["files"]
                  if isinstance(f, dict) and f.get("name") == path.name), None)
    if entry is None:
        return f"its manifest does not list {path.name}", ""
    if not path.is_file():
        return f"{path.name} is missing", ""
    digest = sha256_of(path) if path.stat().st_size == entry.get("bytes") else None
    if digest is None or digest != entry.get("sha256"):
        return f"{path.name} is not the file its manifest lists (size or sha256 differ)", ""
    if columnar.parquet_rows(path) != entry.get("rows"):
        return f"{path.name} does not hold the rows its manifest lists", digest
    return None, digest
