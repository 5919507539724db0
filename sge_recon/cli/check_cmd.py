"""``sge-recon check``: run the §5 catalogue, store the run, exit 0/1/2/3."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError


@click.command("check")
@click.option("--only", metavar="A,B", help="Run only these checks (comma-separated names).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="table for people, json (DESIGN §5) for programs.")
@click.option("--engine", type=click.Choice(["sql", "gx", "duckdb"]), default="sql",
              show_default=True,
              help="sql: plain PostgreSQL (fast). gx: the same SQL as a Great Expectations "
                   "suite (slower; imports GX). duckdb: the full-history ledger checks in DuckDB "
                   "over the verified audit exports' Parquet (EXPORTS_DIR) plus the entries no "
                   "export covers, read live from PostgreSQL; same results, each check says "
                   "which engine produced it; the other checks run on PostgreSQL.")
@click.option("--fast", "fast_only", is_flag=True,
              help="Only the checks marked fast (the per-minute alerting set).")
@click.option("--no-store", is_flag=True, help="Do not record the run in the recon schema.")
@click.option("--list", "list_only", is_flag=True,
              help="List the catalogue (name, priority, thresholds) and exit.")
@click.option("--rebase-checkpoint", "rebase_reason", metavar="REASON",
              help="After a ledger_tamper finding has been investigated: rebuild the incremental "
                   "checkpoint from the rows as they are now, recording REASON, and exit.")
@click.pass_obj
def check(state, only: str | None, fmt: str, engine: str, fast_only: bool, no_store: bool,
          list_only: bool, rebase_reason: str | None) -> None:
    """Run the reconciliation checks (checks/*.sql + checks/checks.yml) and record the run.

    Exit status: 0 all pass, 1 warnings only, 2 any check failed, 3 any check errored or the
    run could not complete (e.g. the database is down).
    """
    recon = state.recon()
    if list_only:
        for d in recon.checks.catalogue():
            click.echo(f"{d.name:<26} {d.priority}  {d.kind:<6}  {d.thresholds.summary()}")
        return
    if rebase_reason is not None:
        report = recon.checks.rebase_checkpoint(rebase_reason)
        click.echo(f"Ledger checkpoint rebuilt at watermark {report.watermark:,} "
                   f"({report.entries_added:,} entries); reason recorded.")
        return
    names = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    if names == []:
        raise UsageError("--only names no check; give names such as --only ledger_balance,"
                         "stuck_intents (`sge-recon check --list` shows them all)")
    run = recon.checks.run(only=names, engine=engine, trigger="cli", store=not no_store,
                           fast_only=fast_only)
    from ..checks.render import run_json, run_table

    if fmt == "json":
        click.echo(run_json(run))
    else:
        click.echo(run_table(run, style=click.style))
        replica = run.replica or {}
        if replica.get("platform_read") and replica.get("replica_paused") is not None:
            from ..replica import lag_text

            lag = replica.get("replica_lag_seconds")
            click.echo(f"Platform read on the replica {replica['platform_read']} "
                       f"({lag_text(lag)} behind the primary"
                       f"{', replay paused' if replica.get('replica_paused') else ''}).")
    sys.exit(run.exit_code())
