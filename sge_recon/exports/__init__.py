"""Monthly audit exports (DESIGN §8): what the CLI, the console page and the scheduler call.

``Recon.exports`` (the composition root, sge_recon.context) is an :class:`ExportService`. Heavy
modules (pyarrow, duckdb) are imported only inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ExportError, UsageError
from .period import Period, parse_period

if TYPE_CHECKING:
    from ..db.databases import Databases
    from ..replica import Freshness
    from .exporter import ExportResult, ProgressFn
    from .verifier import VerifyReport

DEFAULT_DIR = "exports"


@dataclass
class PeriodSummary:
    """One exported period as the console lists it (from its manifest; no database needed)."""

    period: str
    directory: Path
    generated_at: str | None
    files: int
    total_rows: int
    total_bytes: int
    control_totals: list[dict[str, Any]]
    checks_status: str | None
    snapshot: str | None
    complete_month: bool | None
    previous_versions: list[Path]
    problem: str | None = None   # the manifest is unreadable: verify to see why


def checks_at_export_summary(checks: Any) -> str | None:
    """What the catalogue said when the export was taken, from the manifest's
    ``checks_at_export``: the worst status of its stored results and the checks at that status
    ("fail: ledger_balance, transaction_balance"), "pass", or "none stored". (Its own
    ``status`` field only says whether results were stored at all.)"""
    if not isinstance(checks, dict):
        return None
    results = [r for r in checks.get("results") or [] if isinstance(r, dict)]
    if not results:
        return "none stored"
    for worst in ("error", "fail", "warn"):
        names = sorted(str(r.get("name")) for r in results if r.get("status") == worst)
        if names:
            return f"{worst}: {', '.join(names)}"
    return "pass"


class ExportService:
    def __init__(self, databases: "Databases | None" = None, *, out_dir: Path | str | None = None,
                 signing_key: str | None = None,
                 freshness: "Callable[[], Freshness] | None" = None):
        """``databases`` (sge-recon's state and the platform reads) and ``freshness`` (how fresh
        the platform reads are: sge_recon.replica) are needed to export and to list the recorded
        runs; reading, listing and verifying export folders needs neither. ``out_dir``: the
        EXPORTS_DIR setting; ``signing_key``: EXPORT_SIGNING_KEY (PEM), None to sign nothing."""
        self._databases = databases
        self._freshness = freshness
        self.signing_key = signing_key
        self.out_dir = _folder(out_dir or DEFAULT_DIR)

    # -- writing ---------------------------------------------------------------------------------
    def export(self, period: str | Period, *, out_dir: Path | str | None = None,
               force: bool = False, progress: "ProgressFn | None" = None,
               trigger: str = "cli") -> "ExportResult":
        """Export one UTC month into ``out_dir/<period>/`` (see :mod:`.exporter`)."""
        from .exporter import Exporter

        if self._databases is None or self._freshness is None:
            raise ExportError("exporting needs a database: build the service with its databases "
                              "(sge_recon.context.Recon.exports)")
        period = period if isinstance(period, Period) else parse_period(period)
        fresh = self._freshness()
        if fresh.refusal is not None:
            from ..replica import STALE_SUFFIX

            raise ExportError(fresh.refusal.replace(
                STALE_SUFFIX, "the export refuses to snapshot stale data"))
        replica = None
        if fresh.on_standby:
            replica = {"read_on": "standby (PLATFORM_READ_URL)", "where": fresh.where,
                       "lag_seconds": str(fresh.lag_seconds)}
        from .folder import prepare_out_dir

        # refused here, naming what chose the folder: --out (out_dir) or the EXPORTS_DIR setting
        prepare_out_dir(self._dir(out_dir), "--out" if out_dir else "EXPORTS_DIR")
        exporter = Exporter(self._databases.db, self._dir(out_dir), trigger=trigger,
                            generator=f"sge-recon {_version()}", signing_key=self.signing_key,
                            platform_db=self._databases.platform_db, replica=replica)
        return exporter.run(period, force=force, progress=progress)

    def wait_while_exporting(self, period: str, timeout_seconds: float, *,
                             out_dir: Path | str | None = None,
                             poll_seconds: float = 0.5) -> bool:
        """Wait until no export of ``period`` runs in the folder (an operator's, or another
        host's on a shared folder): True; False once ``timeout_seconds`` have passed."""
        from .exporter import period_idle

        deadline = time.monotonic() + timeout_seconds
        while not period_idle(self._dir(out_dir), parse_period(period).label):
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_seconds)
        return True

    def export_now(self, period: str, *, out_dir: Path | str | None = None,
                   force: bool = False) -> "ExportResult":
        """The console's "export now": the same export, recorded as triggered by the console
        (the page records who clicked in recon.action_log)."""
        return self.export(period, out_dir=out_dir, force=force, trigger="console")

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def verify(folder: Path | str, *, expect_manifest_sha256: str | None = None,
               public_key: str | None = None) -> "VerifyReport":
        from .verifier import verify_export

        return verify_export(folder, expect_manifest_sha256=expect_manifest_sha256,
                             public_key=public_key)

    def list_periods(self, out_dir: Path | str | None = None) -> list[PeriodSummary]:
        """Exported periods, newest first, each with its manifest summary."""
        out = self._dir(out_dir).resolve()
        if not out.is_dir():
            return []
        found = []
        for path in out.iterdir():
            if path.is_dir() and _is_period_name(path.name):
                found.append(_summary(path, out))
        return sorted(found, key=lambda s: s.period, reverse=True)

    def period_dir(self, period: str, out_dir: Path | str | None = None) -> Path:
        label = parse_period(period).label
        path = self._dir(out_dir).resolve() / label
        if not path.is_dir():
            raise UsageError(f"period {label} has not been exported to {path.parent}; run "
                             f"`sge-recon export --period {label}` first")
        return path

    def files(self, period: str, out_dir: Path | str | None = None) -> list[dict[str, Any]]:
        """The files of an exported period: name, path, bytes, and the manifest's rows/sha256."""
        folder = self.period_dir(period, out_dir)
        listed = {}
        try:
            listed = {f["name"]: f for f in json.loads((folder / "manifest.json").read_text())["files"]}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        out = []
        for path in _own_files(folder):
            entry = listed.get(path.name, {})
            out.append({"name": path.name, "path": path, "bytes": path.stat().st_size,
                        "rows": entry.get("rows"), "sha256": entry.get("sha256"),
                        "description": entry.get("description")})
        return out

    def zip_period(self, period: str, out_dir: Path | str | None = None,
                   dest: Path | str | None = None) -> Path:
        """A zip of the whole period folder (entries under ``<period>/``); returns its path.

        Parquet is already compressed, so the entries are stored; the zip is written to a
        temporary name and renamed, so a reader never sees a half archive.
        """
        folder = self.period_dir(period, out_dir)
        dest = Path(dest) if dest else Path(tempfile.gettempdir()) / f"sge-recon-{folder.name}.zip"
        # a name of its own: two sessions of one console process zip the same period at once
        partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{secrets.token_hex(6)}")
        try:
            # private (0600) from its first byte: the books of a period are no one else's to read
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(
                    raw, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for path in _own_files(folder):
                    archive.write(path, f"{folder.name}/{path.name}")
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        return dest

    def zip_bytes(self, period: str, out_dir: Path | str | None = None) -> bytes:
        """The period's zip (as :meth:`zip_period` makes it) as bytes, for a download: built in a
        private temporary folder (0700, the file 0600) that is removed before this returns, so
        no copy of the books is left behind in the temporary folder for other users to read."""
        with tempfile.TemporaryDirectory(prefix="sge-recon-zip-") as private:
            path = self.zip_period(period, out_dir,
                                   dest=Path(private) / f"sge-recon-audit-{period}.zip")
            return path.read_bytes()

    def runs(self, period: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The recorded exports (recon.export_runs), newest first."""
        from ..db import exports as store

        if self._databases is None:
            return []
        return store.export_runs(self._databases.db, period, limit)

    def missing_periods(self, since: str, out_dir: Path | str | None = None) -> list[str]:
        """Complete months from ``since`` to last month that have no export folder, or only a
        preliminary one taken before the month was over (catch-up)."""
        have = {s.period for s in self.list_periods(out_dir) if s.complete_month is not False}
        current = Period.of(datetime.now(timezone.utc))
        month, missing = parse_period(since), []
        while month.start < current.start:
            if month.label not in have:
                missing.append(month.label)
            month = month.next()
        return missing

    def _dir(self, out_dir: Path | str | None) -> Path:
        return _folder(out_dir) if out_dir else self.out_dir


def _folder(value: Path | str) -> Path:
    """EXPORTS_DIR or --out as a folder: a leading ``~`` is the home folder, as in a shell (a
    config file, a systemd Environment= or a quoted --out does not expand it; taken literally
    it made a folder named ``~`` in the working directory)."""
    return Path(value).expanduser()


def _own_files(folder: Path) -> list[Path]:
    """The files a period folder holds itself, for a download: a symbolic link is never
    followed (one planted in the folder would hand out whatever it points to, a key or another
    month's file; `export verify` names it)."""
    return [path for path in sorted(folder.iterdir())
            if path.is_file() and not path.is_symlink()]


def _is_period_name(name: str) -> bool:
    from .period import is_period_label

    return is_period_label(name)


def _summary(folder: Path, out: Path) -> PeriodSummary:
    from .exporter import REPLACED

    previous = sorted(out.glob(f"{folder.name}{REPLACED}*"))
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("period") != folder.name:
            return PeriodSummary(folder.name, folder, None, 0, 0, 0, [], None, None, None,
                                 previous, problem=f"holds the export of period "
                                 f"{manifest.get('period')}, not {folder.name} (the folder was "
                                 "renamed or moved); run verify")
        return PeriodSummary(
            period=folder.name, directory=folder, generated_at=manifest.get("generated_at"),
            files=len(files), total_rows=sum(f.get("rows") or 0 for f in files),
            total_bytes=sum(f.get("bytes") or 0 for f in files),
            control_totals=manifest.get("control_totals") or [],
            checks_status=checks_at_export_summary(manifest.get("checks_at_export")),
            snapshot=(manifest.get("source") or {}).get("snapshot"),
            complete_month=manifest.get("complete_month"), previous_versions=previous)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return PeriodSummary(folder.name, folder, None, 0, 0, 0, [], None, None, None, previous,
                             problem=f"manifest unreadable ({type(exc).__name__}); run verify")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sge-recon")
    except Exception:
        return "unknown"
