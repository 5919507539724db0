"""``sge-recon export --period YYYY-MM`` and ``sge-recon export verify DIR`` (DESIGN §8).

``export`` is a group that also runs by itself: with ``--period`` and no subcommand it exports;
``export verify DIR`` and ``export list`` are its subcommands.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from ..errors import UsageError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--period", metavar="YYYY-MM", help="The UTC month to export, e.g. 2026-10.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder that receives <period>/ (created if missing). Default: the "
                   "EXPORTS_DIR setting (exports/).")
@click.option("--force", is_flag=True,
              help="Export a period again (the earlier version is kept as "
                   "<period>.replaced-<time>), or the current month before it is over (a "
                   "preliminary export, complete_month: false).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format of the summary.")
@click.pass_context
def export(ctx: click.Context, period: str | None, out_dir: str, force: bool, fmt: str) -> None:
    """Write the audit export of one UTC month into OUT/<period>/.

    One Parquet file per table (money as exact decimals, timestamps in UTC), read in one
    consistent snapshot; audit.duckdb with views over them (trial_balance, transaction_balance,
    unbalanced_transactions, account_balances, commissions_by_affiliate); manifest.json with rows,
    bytes and sha256 of every file and the control totals per program and currency. Atomic: a
    killed export leaves no half period.

    \b
    Examples:
      sge-recon export --period 2026-10
      sge-recon export --period 2026-10 --out /srv/audit --force
      sge-recon export verify exports/2026-10
    """
    if ctx.invoked_subcommand is not None:
        if period or force:
            raise UsageError(f"--period and --force belong to the export itself, not to "
                             f"`export {ctx.invoked_subcommand}`; run them separately")
        return
    if not period:
        raise UsageError("give the month to export with --period YYYY-MM (e.g. "
                         "`sge-recon export --period 2026-10`), or verify a folder with "
                         "`sge-recon export verify DIR`")
    recon = ctx.obj.recon_on_known_schema()
    with _progress(period) as progress:
        result = recon.exports.export(period, out_dir=out_dir, force=force, progress=progress)
    if fmt == "json":
        click.echo(json.dumps({
            "period": result.period, "directory": str(result.directory),
            "seconds": round(result.seconds, 3), "total_rows": result.total_rows,
            "total_bytes": result.total_bytes, "manifest_sha256": result.manifest_sha256,
            "replaced": str(result.replaced) if result.replaced else None,
            "files": [{k: f.get(k) for k in ("name", "rows", "bytes", "sha256")}
                      for f in result.manifest["files"]],
            "control_totals": result.manifest["control_totals"],
            "notes": result.notes}, indent=2))
        return
    _print_result(result)


@export.command("verify")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--manifest-sha256", "expect",
              help="Also require manifest.json to have this sha256 (64 hex digits, as "
                   "printed at export); a malformed value is refused (exit 3).")
@click.option("--public-key", "public_key_file", type=click.Path(dir_okay=False),
              help="Require manifest.sig to be a valid signature of manifest.json by this "
                   "Ed25519 public key (PEM; from `sge-recon export public-key`).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def verify(directory: str, expect: str | None, public_key_file: str | None, fmt: str) -> None:
    """Verify an export folder offline: every sha256, size, row count and control total is
    recomputed from the files (DuckDB) and every ledger transaction must balance.

    \b
    Exit codes (DESIGN §8):
      0  intact: every file, figure and signature matches, every transaction balances
      1  altered or inconsistent: a hash, size, row count, control total, column type,
         audit.duckdb view or signature does not match, a file is unlisted or a symlink, the
         folder is named after another month (each mismatch is named)
      2  intact, but the books it holds have accounting findings (e.g. an unbalanced
         transaction, exported faithfully)
      3  could not be verified (missing folder, unreadable or malformed manifest, one
         giving a key twice, a --public-key that is not an Ed25519 public key, a
         --manifest-sha256 that is not 64 hex digits)
    No database is needed; the folder may be a copy anywhere.
    """
    from ..exports import ExportService

    if expect is not None:
        expect = _expected_sha256(expect)
    public_key = _read_public_key(public_key_file) if public_key_file is not None else None
    report = ExportService.verify(directory, expect_manifest_sha256=expect, public_key=public_key)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif report.intact and report.findings:
        click.echo(f"INTACT, WITH ACCOUNTING FINDINGS: {report.folder} (period {report.period}): "
                   f"the files are exactly as exported ({report.files_checked} files, "
                   f"{report.rows_checked:,} rows), but the books they hold have "
                   f"{len(report.findings)} finding(s):")
        for finding in report.findings:
            click.echo(f"  - {finding}")
    elif report.ok:
        signature = ("the manifest's signature is valid" if report.signature_verified else
                     "signed, signature not checked (pass --public-key)" if report.signed else
                     "not signed")
        click.echo(f"OK: {report.folder} (period {report.period}) verified: "
                   f"{report.files_checked} files, {report.rows_checked:,} rows, every hash, "
                   f"row count and control total matches, every transaction balances; "
                   f"{signature}.")
    else:
        click.echo(f"FAILED: {report.folder} (period {report.period}): "
                   f"{len(report.mismatches)} mismatch(es):")
        for mismatch in report.mismatches:
            click.echo(f"  - {mismatch}")
        if report.findings:
            click.echo(f"and {len(report.findings)} accounting finding(s) in the books:")
            for finding in report.findings:
                click.echo(f"  - {finding}")
    sys.exit(report.exit_code)


@export.command("list")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder holding the exported periods. Default: the EXPORTS_DIR setting.")
@click.pass_obj
def list_periods(state, out_dir: str | None) -> None:
    """List exported periods with their manifest summary (no database needed)."""
    from ..config import Settings
    from ..exports import ExportService

    from pathlib import Path

    given = out_dir
    out_dir = out_dir or Settings.load(config_file=state.config).EXPORTS_DIR
    if given and not Path(given).is_dir():  # a typo must not read as "nothing was exported"
        raise UsageError(f"--out: {given} is not a folder; give the folder that holds the "
                         "exported periods (the export's --out, or EXPORTS_DIR)")
    periods = ExportService(out_dir=out_dir).list_periods()
    if not periods:
        click.echo(f"No exported periods in {out_dir}"
                   + ("" if Path(out_dir).is_dir() else " (the folder does not exist yet)") + ".")
        return
    for s in periods:
        if s.problem:
            click.echo(f"{s.period}  {s.problem}")
            continue
        older = f", {len(s.previous_versions)} earlier version(s) kept" if s.previous_versions else ""
        click.echo(f"{s.period}  generated {s.generated_at}  {s.files} files  {s.total_rows:,} rows  "
                   f"{_size(s.total_bytes)}  checks at export: {s.checks_status}{older}"
                   + ("  PRELIMINARY (month not over when exported)"
                      if s.complete_month is False else ""))


@export.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False))
def keygen(path: str) -> None:
    """Create an Ed25519 private key for signing manifests (file mode 0600).

    Use it with EXPORT_SIGNING_KEY_FILE=PATH; give auditors `sge-recon export public-key`.
    """
    import os
    from pathlib import Path

    from ..exports.signing import generate_private_key_pem

    target = Path(path)
    if target.exists():
        raise UsageError(f"{target} already exists; choose a new path (a signing key is never "
                         "overwritten)")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # no such folder, not writable, ...
        raise UsageError(f"cannot create {target} ({exc.strerror}); choose a path in an existing "
                         "folder you can write") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(generate_private_key_pem())
    click.echo(f"Wrote a new signing key to {target} (mode 0600). Set "
               f"EXPORT_SIGNING_KEY_FILE={target} and publish `sge-recon export public-key`.")


@export.command("public-key")
@click.pass_obj
def public_key(state) -> None:
    """Print the public key that verifies this installation's exports, for auditors.

    The key of EXPORT_SIGNING_KEY (or EXPORT_SIGNING_KEY_FILE); when neither is set, the key that
    `sge-recon demo` signs with (SGE_RECON_HOME/export-signing-key.pem). Its fingerprint (SHA256:
    + base64 of the SHA-256 of the raw 32-byte key) goes to standard error.
    """
    from ..config import Settings
    from ..exports.signing import DEMO_KEY_FILE, fingerprint, public_key_pem

    settings = Settings.load(config_file=state.config)
    private, source = settings.EXPORT_SIGNING_KEY, None
    demo_key = settings.home / DEMO_KEY_FILE
    if not private and demo_key.is_file():
        private, source = demo_key.read_text(), demo_key
    if not private:
        raise UsageError("no signing key is configured; set EXPORT_SIGNING_KEY_FILE (create a key "
                         "with `sge-recon export keygen FILE`); the demo's key would be "
                         f"{demo_key}, which does not exist")
    pem = public_key_pem(private)
    click.echo(pem.rstrip())
    if source is not None:
        click.echo(f"# the demo's signing key ({source})", err=True)
    click.echo(f"# fingerprint {fingerprint(pem)}", err=True)


def _expected_sha256(value: str) -> str:
    """--manifest-sha256 as given: 64 hexadecimal digits (any case, spaces around ignored). An
    empty value (an unset shell variable) or a typo is the user's mistake, exit 3: never a check
    silently skipped (exit 0), never "the manifest differs" (exit 1, read as tampering)."""
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        shown = repr(value) if len(value) <= 80 else repr(value[:80]) + "…"
        raise UsageError(f"--manifest-sha256: {shown} is not a sha256 (64 hexadecimal digits, "
                         "as the export printed it after \"manifest.json sha256:\" and "
                         "`sha256sum manifest.json` prints it); give the value recorded at "
                         "export; the export was not verified")
    return digest


def _read_public_key(path: str) -> str:
    from ..exports.signing import load_public_key
    from ..small_files import UnfitFile, read_small_file

    if not path.strip():  # an unset shell variable: never verify without the signature asked for
        raise UsageError("--public-key is empty; give the PEM file printed by `sge-recon export "
                         "public-key` (or leave the option out to verify without the signature); "
                         "the export was not verified")
    try:
        pem = read_small_file(path, 64 << 10).decode("utf-8")  # a PEM key is a few hundred bytes
    except UnfitFile as exc:
        raise UsageError(f"the public key {path} {exc}; give the PEM file printed by `sge-recon "
                         "export public-key`") from None
    except OSError as exc:
        raise UsageError(f"cannot read the public key {path} ({exc.strerror}); give the PEM file "
                         "printed by `sge-recon export public-key`") from None
    except UnicodeDecodeError:
        pem = "(not text)"  # refused just below, as any other file that is not a public key
    load_public_key(pem)  # not a public key: exit 3 (could not be verified) before any work
    return pem


class _progress:
    """A progress bar on stderr when it is a terminal; silent otherwise (logs, pipes, cron)."""

    def __init__(self, period: str):
        self.period = period
        self.bar: ProgressBar[str | None] | None = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from ..exports.tables import TABLES

        self.bar = click.progressbar(length=len(TABLES), label=f"Exporting {self.period}",
                                     file=sys.stderr, item_show_func=lambda item: item)
        self.bar.__enter__()
        return self.update

    def update(self, p) -> None:
        assert self.bar is not None  # handed out by __enter__ once the bar is shown
        self.bar.update(1 if p.done else 0, current_item=f"{p.table}: {p.rows:,} rows")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print_result(result) -> None:
    click.echo(f"Exported {result.period} to {result.directory} in {result.seconds:.1f} s: "
               f"{len(result.manifest['files'])} files, {result.total_rows:,} rows, "
               f"{_size(result.total_bytes)}.")
    if result.replaced:
        click.echo(f"The earlier version was kept as {result.replaced}.")
    for f in result.manifest["files"]:
        rows = f"{f['rows']:>12,} rows" if f.get("rows") is not None else " " * 17
        click.echo(f"  {f['name']:<28}{rows}  {_size(f['bytes']):>10}")
    totals = result.manifest["control_totals"]
    if totals:
        click.echo("Control totals (ledger entries of the month):")
        for t in totals:
            click.echo(f"  {t['program_id']} {t['currency']}: debits {t['debits']}, credits "
                       f"{t['credits']}, {t['entry_count']:,} entries")
    else:
        click.echo("No ledger entries in this month.")
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(f"manifest.json sha256: {result.manifest_sha256}")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
