"""``manifest.json``: what an export folder holds and the figures that prove it.

An auditor reads it; ``sge-recon export verify`` recomputes every figure in it from the files.
Money is written as decimal strings, never as JSON numbers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import ExportError

MANIFEST = "manifest.json"
FORMAT = "sge-recon-audit-export"
# 2: journal.parquet and the manifest's "journal" anchors (issue 19); 3: payout_items.parquet
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
REQUIRED_KEYS = ("format", "format_version", "period", "generated_at", "source", "files",
                 "control_totals", "checks_at_export")


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path, **extra: Any) -> dict[str, Any]:
    return {"name": path.name, **extra, "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, default=_json_default) + "\n"


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST
    path.write_text(dumps(manifest), encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest, checked for shape; an :class:`ExportError` says what is wrong."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise ExportError(f"{folder} is not a folder; give the path of an export period folder "
                          "such as exports/2026-10")
    if not path.is_file():
        raise ExportError(f"{path} does not exist: {folder} is not an export period folder (or its "
                          "manifest was deleted)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); the manifest was damaged") from None
    except RecursionError:
        raise ExportError(f"{path} is nested too deeply to be a manifest; the manifest was "
                          "damaged or crafted") from None
    except _DuplicateKey as exc:
        raise ExportError(f"{path} gives the key {exc.args[0]!r} twice in one object (JSON "
                          "readers disagree on which one counts); the manifest was damaged "
                          "or crafted") from None
    if not isinstance(manifest, dict):
        raise ExportError(f"{path} is not a JSON object; the manifest was damaged")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ExportError(f"{path} lacks {', '.join(missing)}; the manifest was damaged")
    if manifest["format"] != FORMAT:
        raise ExportError(f"{path} is not an sge-recon audit export manifest")
    if manifest["format_version"] not in READABLE_VERSIONS:
        raise ExportError(f"{path} has format_version {manifest['format_version']!r}; this "
                          f"sge-recon reads version {FORMAT_VERSION}: upgrade sge-recon")
    return manifest


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal, UUID: exact text
