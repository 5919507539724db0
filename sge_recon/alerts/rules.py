"""The runbook's alert rules: which check results are an incident, how urgent, what to do first.

Each rule turns :class:`~sge_recon.metrics.facts.Facts` (read from the check results) into zero or
more :class:`Finding` s, keyed by (kind, key): one open incident per key, so a fault that persists
for hours is one incident, not one alert per minute. Whether a signal is a fault is its check's
status (the catalogue's thresholds); a rule only words it, never applies a threshold of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from .. import check_names
from ..config import Settings
from ..metrics.facts import Facts
from ..money import (
    fits_numeric_38_6, merge_apart, money_abs, money_add, money_text, split_amounts, stake_text,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """An incident kind. ``check`` names the catalogue entry whose priority and runbook steps
    win over the defaults here (checks/checks.yml is the runbook's source of truth)."""

    kind: str
    check: str
    priority: str
    summary: str
    first_steps: tuple[str, ...]
    console_page: str  # path under CONSOLE_URL


RULES: dict[str, Rule] = {r.kind: r for r in (
    Rule("ledger_imbalance", check_names.LEDGER_BALANCE, "P0",
         "Ledger imbalance: debits and credits differ",
         ("Pause the settlement queue (console: Queue & workers → Pause) so no new entries land.",
          "Open the Ledger page: find the unbalanced transactions (transaction_balance check).",
          "Post a balancing correction through the admin API only after finance signs off."),
         "ledger"),
    Rule(check_names.LEDGER_TAMPER, check_names.LEDGER_TAMPER, "P0",
         "Ledger history was modified: reconciled entries changed or deleted",
         ("Freeze payouts for the program; find who wrote to the ledger table.",
          "Compare with the last audit export to see the rows as they were.",
          "Correct, then rebase: sge-recon check --rebase-checkpoint \"reason\"."),
         "ledger"),
    Rule("worker_down", check_names.WORKER_STATUS, "P1", "Settlement workers are down",
         ("Check the worker processes and their logs; restart them.",
          "Check database and RPC reachability (the workers need both).",
          "Once a heartbeat is back, watch the queue drain on the Queue & workers page."),
         "queue"),
    Rule(check_names.QUEUE_PAUSED, check_names.QUEUE_PAUSED, "P3", "Settlement queue is paused",
         ("Ask who paused it and why; a planned maintenance belongs in a silence.",
          "Resume it (console: Queue & workers → Resume) once the reason is over.",
          "If it must stay paused, accept the incident with a note saying until when."),
         "queue"),
    Rule(check_names.QUEUE_DEPTH, check_names.QUEUE_DEPTH, "P2", "Settlement queue is backing up",
         ("Check that workers are alive and not degraded (Queue & workers page).",
          "Look for a failing dependency (RPC latency, database) slowing every job.",
          "Scale workers out; do not purge the queue."),
         "queue"),
    Rule(check_names.STUCK_INTENTS, check_names.STUCK_INTENTS, "P1", "Settlement intents are stuck",
         ("Open the Intents page, filter stuck intents, read their last_error.",
          "Retry each stuck intent (console: Retry) once the cause is fixed.",
          "If many are stuck in the same status, treat it as a worker/RPC incident."),
         "intents"),
    Rule(check_names.WEBHOOK_EXHAUSTED, check_names.WEBHOOK_EXHAUSTED, "P3",
         "Webhook deliveries gave up after 5 attempts",
         ("Open the Webhooks page: see which endpoints and events failed.",
          "Contact the program owner if their endpoint is down.",
          "Retry the deliveries (console: Retry) once the endpoint answers."),
         "webhooks"),
    # Not a catalogue check: the standby of PLATFORM_READ_URL is too far behind, paused or down,
    # so every check errors (reconciliation is blind): P1, like workers down.
    Rule("replica_lag", "replica_lag", "P1",
         "The replica the checks read is behind: reconciliation is blind",
         ("On the standby: SELECT pg_is_wal_replay_paused(), now() - "
          "pg_last_xact_replay_timestamp(); resume a paused replay with pg_wal_replay_resume().",
          "Check the standby's log and pg_stat_wal_receiver (is it streaming?), and the "
          "primary's pg_stat_replication.",
          "If it cannot catch up soon, unset PLATFORM_READ_URL so the checks read the primary."),
         "overview"),
    # Not a catalogue check: a check a rule above reads keeps erroring (broken SQL after a
    # platform migration, a revoked grant, a timeout every minute), so that rule is blind: a
    # ledger imbalance would never page. P1, like replica_lag.
    Rule("check_error", "check_error", "P1",
         "Checks the alerts depend on keep erroring: those alerts are blind",
         ("Read the error (Checks page, or `sge-recon check`): a renamed table or column, a "
          "revoked grant, a statement timeout.",
          "Fix the platform or the check's SQL (checks/*.sql), then run the check again.",
          "Until it runs, check the ledger and the queue by hand (console: Ledger, Queue)."),
         "overview"),
    # Not a catalogue check: a scheduled job's slot failed and is not tried again (its attempts
    # used up, its grace over): a night unreconciled, a month unexported, a reminder unsent
    # stays so unless someone acts. P2, like NightlyReconciliationMissing.
    Rule("job_failed", "job_failed", "P2",
         "A scheduled job failed and will not be tried again",
         ("Read its error (below, and recon.job_runs: status 'failed'; the scheduler's log).",
          "Fix the cause; its next slot runs it again (the monthly export catches up every "
          "missing month). Needed now: `sge-recon check`, or `sge-recon export YYYY-MM`.",
          "It resolves when the job next succeeds; until then Accept it with a note."),
         "overview"),
    Rule("webhook_endpoint_failing", check_names.WEBHOOK_ENDPOINTS_FAILING, "P3",
         "Webhook endpoints keep failing",
         ("Open the Webhooks page: check the endpoint's last errors.",
          "Contact the program owner; the platform disables an endpoint failing for 24 h.",),
         "webhooks"),
)}


@dataclass
class Finding:
    kind: str
    key: str
    title: str
    money: dict[str, Decimal] = field(default_factory=dict)  # at stake, per currency
    details: dict[str, Any] = field(default_factory=dict)
    priority: str = ""
    first_steps: list[str] = field(default_factory=list)
    # per currency, the NaN / infinite amounts left out of ``money``: {currency: {word: count}}
    apart: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.priority = self.priority or self.rule.priority
        self.first_steps = self.first_steps or list(self.rule.first_steps)

    @property
    def rule(self) -> Rule:
        return RULES[self.kind]

    @property
    def money_at_stake(self) -> Decimal | None:
        """The amount at stake when it is in one currency; None otherwise (amounts in different
        currencies do not add up: ``money`` holds them per currency)."""
        amounts = [v for v in self.money.values() if v]
        if self.apart or len(amounts) != 1 or not fits_numeric_38_6(amounts[0]):
            return None  # past numeric(38,6) (recon.incidents), in range or scale: details.money
        return amounts[0]


def evaluate_rules(facts: Facts, settings: Settings,
                   failed: set[str] | None = None) -> list[Finding]:
    """Every incident the facts call for right now, in priority order.

    One rule that raises never suppresses the others: it is logged with its name, and the
    incident kinds it words are added to ``failed`` (the caller then leaves their open incidents
    as they are: a rule that could not run proves nothing)."""
    failed = set() if failed is None else failed
    findings: list[Finding] = []
    for kinds, rule in _RULE_FUNCTIONS:
        try:
            findings.extend(rule(facts, settings))
        except Exception:  # noqa: BLE001 - one broken rule must not blind every other alert
            log.exception("alerts: rule %s failed; the other rules still ran", "/".join(kinds))
            failed.update(kinds)
    # a signal the platform has no data for never alerts (DESIGN §5 `unavailable`)
    findings = [f for f in findings if facts.has(f.rule.check)]
    grouped = group_findings(findings, failed)
    for f in grouped:  # more imbalanced ledgers than the check's sample: its exact totals
        if f.kind == "ledger_imbalance" and facts.ledger_imbalances > f.details["items_total"]:
            f.details["items_total"] = facts.ledger_imbalances
            f.money = dict(facts.ledger_money)
            f.apart = {c: dict(a) for c, a in facts.ledger_apart.items()}
    return sorted(grouped, key=lambda f: (f.priority, f.kind, f.key))


# Kinds whose findings come one per program/currency: one check in one run pages ONCE, listing
# every program/currency (issue 19). The grouped incident's key is "" so a set that changes while
# it is open updates its evidence instead of paging again.
GROUPED_KINDS = ("ledger_imbalance", check_names.LEDGER_TAMPER)
GROUP_ITEMS_LIMIT = 50  # evidence kept per grouped incident (the count is always exact)


def group_findings(findings: list[Finding], failed: set[str] | None = None) -> list[Finding]:
    """Merge the per-program/currency findings of each grouped kind into one finding: every
    item's evidence under ``details["items"]``, the money summed per currency (exact Decimals),
    the programs listed. One item keeps its own details at the top level as well."""
    out = [f for f in findings if f.kind not in GROUPED_KINDS]
    for kind in GROUPED_KINDS:
        parts = sorted((f for f in findings if f.kind == kind), key=lambda f: f.key)
        if parts:
            try:
                out.append(_merge(kind, parts))
            except Exception:  # noqa: BLE001 - the other kinds still alert
                log.exception("alerts: grouping the %s findings failed", kind)
                if failed is not None:
                    failed.add(kind)
    return out


def _merge(kind: str, parts: list[Finding]) -> Finding:
    money: dict[str, Decimal] = {}
    apart: dict[str, dict[str, int]] = {}
    for f in parts:
        for currency, amount in f.money.items():
            money[currency] = money_add(money.get(currency, Decimal(0)), amount)
        for currency, counts in f.apart.items():
            money.setdefault(currency, Decimal(0))
            merge_apart(apart.setdefault(currency, {}), counts)
    items = [{**{k: v for k, v in f.details.items() if k != "where"}, "key": f.key,
              "money": {c: str(v) for c, v in f.money.items()},
              **({"money_apart": f.apart} if f.apart else {})} for f in parts]
    programs = sorted({str(i.get("program_id")) for i in items if i.get("program_id")})
    base = dict(parts[0].details) if len(parts) == 1 else {}
    details = {**base, "items": items[:GROUP_ITEMS_LIMIT], "items_total": len(items),
               "programs": programs, "keys": [f.key for f in parts]}
    if len(parts) == 1:
        title = parts[0].title
    else:
        details["where"] = (f"{len(parts)} program/currency ledgers: "
                            + id_list([f.key for f in parts], len(parts)))
        details.update(ids=[f.key for f in parts][:5], ids_total=len(parts),
                       ids_kind="program/currency ledgers")
        what, verb = (("Ledger imbalance", "off") if kind == "ledger_imbalance"
                      else ("Ledger history modified", "changed"))
        title = (f"{what} in {len(parts)} program/currency ledgers "
                 f"({_programs(programs)}): {verb} by "
                 + ", ".join(stake_text(v, c, apart.get(c)) for c, v in sorted(money.items())))
    return Finding(kind, "", title, money, details, parts[0].priority, parts[0].first_steps,
                   apart)


def _ledger(facts: Facts, settings: Settings) -> list[Finding]:
    if not facts.failing(check_names.LEDGER_BALANCE):
        return []
    out = []
    for d in facts.ledger:  # the check's failing rows: every one is off by the tolerance or more
        off, apart = split_amounts([money_abs(d.difference)])
        out.append(Finding(
            "ledger_imbalance", f"{d.program_id}/{d.currency}",
            f"Ledger of program {d.program_id} ({d.currency}) is off by "
            f"{money_text(money_abs(d.difference), d.currency)}",
            {d.currency: off} if not apart else {},
            {"program_id": d.program_id, "currency": d.currency,
             "total_debits": str(d.total_debits), "total_credits": str(d.total_credits),
             "difference": str(d.difference),
             "where": f"program {d.program_id}, {d.currency} ledger"},
            apart={d.currency: apart} if apart else {}))
    return out


def _tamper(facts: Facts) -> list[Finding]:
    """History modified (the daily ledger_tamper check): one P0 incident per program/currency,
    open until a full run passes again (after the checkpoint is rebased)."""
    out = []
    for r in facts.ledger_tamper:
        amount = Decimal(str(r.get("amount") or 0))
        currency = r.get("currency") or ""
        # a NaN change is counted apart: summed, it hid the other programs' changed amounts
        changed, apart = split_amounts([amount])
        out.append(Finding(
            check_names.LEDGER_TAMPER, f"{r.get('program_id')}/{currency}",
            f"Ledger history of program {r.get('program_id')} ({currency}) was modified "
            f"({r.get('problem', 'rows_changed').replace('_', ' ')}): "
            f"{money_text(amount, currency)} changed",
            {currency: changed} if changed else {},
            {**r, "where": f"program {r.get('program_id')}, {currency} ledger"},
            apart={currency: apart} if apart else {}))
    return out


def _workers(facts: Facts, settings: Settings) -> list[Finding]:
    down = facts.worker_down_seconds
    if down is None or down <= settings.WORKER_DOWN_ALERT_MINUTES * 60:
        return []
    assert facts.last_heartbeat_at is not None  # worker_down_seconds is None without it
    minutes = int(down // 60)
    if facts.queue_source:
        title = f"No worker registered on {facts.queue_source} for {minutes} min"
    elif facts.heartbeat_never_seen:
        title = f"No settlement worker has ever sent a heartbeat (checked for {minutes} min)"
    else:
        title = f"No settlement worker heartbeat for {minutes} min"
    return [Finding(
        "worker_down", "",
        f"{title} ({facts.queue_depth} jobs waiting)",
        dict(facts.queue_money),
        {"last_heartbeat_at": None if facts.heartbeat_never_seen
         else facts.last_heartbeat_at.isoformat(),
         "down_since": facts.last_heartbeat_at.isoformat(),
         "down_seconds": str(int(down)), "workers_seen_24h": facts.workers_recent,
         "queue_depth": facts.queue_depth, "where": "settlement workers"})]


def _paused(facts: Facts) -> list[Finding]:
    """The settlement queue is paused: the declared cause (checks.yml caused_by) of the backlog
    and the stuck intents that follow, which become this incident's children."""
    if facts.status(check_names.QUEUE_PAUSED) not in ("warn", "fail"):
        return []
    since = (f" since {facts.queue_paused_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
             if facts.queue_paused_at else "")
    by = f" by {facts.queue_paused_by}" if facts.queue_paused_by else ""
    return [Finding(
        check_names.QUEUE_PAUSED, "settlement",
        f"Settlement queue paused{by}{since} ({facts.queue_depth} jobs waiting)",
        dict(facts.queue_money),
        {"paused_by": facts.queue_paused_by,
         "paused_at": facts.queue_paused_at.isoformat() if facts.queue_paused_at else None,
         "queue_depth": facts.queue_depth,
         "where": facts.queue_source or "settlement queue"})]


def _queue(facts: Facts, settings: Settings) -> list[Finding]:
    if not facts.failing(check_names.QUEUE_DEPTH):
        return []
    return [Finding(
        check_names.QUEUE_DEPTH, "settlement",
        f"{facts.queue_depth} settlement jobs waiting (limit {settings.QUEUE_DEPTH_FAIL})",
        dict(facts.queue_money),
        {"queue_depth": facts.queue_depth, "limit": settings.QUEUE_DEPTH_FAIL,
         "worker_status": facts.worker_status, "where": "settlement queue"})]


def _stuck(facts: Facts, settings: Settings) -> list[Finding]:
    if not facts.failing(check_names.STUCK_INTENTS):
        return []
    oldest = int((facts.now - facts.oldest_stuck_at).total_seconds() // 60) \
        if facts.oldest_stuck_at else None
    return [Finding(
        check_names.STUCK_INTENTS, "",
        f"{facts.stuck_intents_failing} intents stuck for more than "
        f"{settings.INTENT_STUCK_FAIL_MINUTES} min (oldest {oldest} min)",
        dict(facts.stuck_money),
        {"stuck_over_fail_minutes": facts.stuck_intents_failing,
         "stuck_over_timeout": facts.stuck_intents, "oldest_minutes": oldest,
         "fail_minutes": settings.INTENT_STUCK_FAIL_MINUTES,
         "where": _programs(r["program_id"] for r in facts.stuck_examples),
         "ids": [r["id"] for r in facts.stuck_examples], "ids_total": facts.stuck_intents_failing,
         "ids_kind": "intents"},
        apart={c: dict(a) for c, a in facts.stuck_apart.items()})]


def _webhooks(facts: Facts, settings: Settings) -> list[Finding]:
    out = []
    if facts.failing(check_names.WEBHOOK_EXHAUSTED):
        out.append(Finding(
            check_names.WEBHOOK_EXHAUSTED, "",
            f"{facts.webhook_exhausted} webhook deliveries exhausted their attempts",
            {}, {"exhausted": facts.webhook_exhausted,
                 "where": "endpoints " + ", ".join(sorted({str(r["endpoint_id"])
                                                          for r in facts.exhausted_examples})),
                 "ids": [r["id"] for r in facts.exhausted_examples],
                 "ids_total": facts.webhook_exhausted, "ids_kind": "deliveries"}))
    if facts.status(check_names.WEBHOOK_ENDPOINTS_FAILING) in ("warn", "fail"):
        ids = [r["endpoint_id"] for r in facts.failing_endpoints]
        total = int(facts.results[check_names.WEBHOOK_ENDPOINTS_FAILING].failing_rows or len(ids))
        out.append(Finding(
            "webhook_endpoint_failing", "",
            f"{total} webhook endpoints with more than "
            f"{settings.WEBHOOK_CONSECUTIVE_FAILURES} consecutive failures",
            {}, {"endpoints": [{"endpoint_id": r["endpoint_id"],
                                "consecutive_failures": int(r["consecutive_failures"]),
                                "failing_since": r["failing_since"].isoformat()
                                if r.get("failing_since") else None}
                               for r in facts.failing_endpoints[:20]],
                 "count": total,
                 "where": _programs(r.get("program_id") for r in facts.failing_endpoints),
                 "ids": ids[:5], "ids_total": total, "ids_kind": "endpoints"}))
    return out


def _replica(facts: Facts, settings: Settings) -> list[Finding]:
    """The standby of PLATFORM_READ_URL beyond REPLICA_MAX_LAG_SECONDS, paused or unreachable."""
    if facts.replica_problem is None:
        return []
    from ..replica import lag_text

    state = ("replay paused" if facts.replica_paused else
             "unreachable or not measurable" if facts.replica_lag_seconds is None else
             f"{lag_text(facts.replica_lag_seconds)} behind")
    return [Finding(
        "replica_lag", "",
        f"The replica {facts.replica_where} is {state}: checks error instead of reading stale "
        "data",
        {}, {"replica": facts.replica_where,
             "lag_seconds": None if facts.replica_lag_seconds is None
             else str(facts.replica_lag_seconds),
             "paused": facts.replica_paused, "limit_seconds": settings.REPLICA_MAX_LAG_SECONDS,
             "problem": facts.replica_problem, "where": f"replica {facts.replica_where}"})]


CHECK_ERROR_ALERT_MINUTES = 5  # an error this long is a blind alert, not a blip


def _blind(facts: Facts, settings: Settings) -> list[Finding]:
    """The checks the rules read that have errored without a break for
    CHECK_ERROR_ALERT_MINUTES: one incident listing them (their open incidents, if any, stay
    open as 'state unknown'; this one says that nothing new can page)."""
    watched = {r.check for r in RULES.values()}
    limit = timedelta(minutes=CHECK_ERROR_ALERT_MINUTES)
    blind = sorted(n for n in facts.errored if n in watched
                   and facts.now - facts.erroring_since.get(n, facts.now) >= limit)
    if not blind:
        return []
    since = min(facts.erroring_since[n] for n in blind)
    minutes = int((facts.now - since).total_seconds() // 60)
    errors = {n: str(facts.unavailable.get(n) or "errored")[:300] for n in blind}
    return [Finding(
        "check_error", "",
        f"{len(blind)} check(s) erroring for {minutes} min, their alerts are blind: "
        + "; ".join(f"{n} ({e})" for n, e in errors.items()),
        {}, {"checks": blind, "keys": blind, "errors": errors, "erroring_since": since.isoformat(),
             "where": "checks " + ", ".join(blind)})]


def _jobs(facts: Facts, _settings: Settings) -> list[Finding]:
    """One incident per scheduled job given up (facts.jobs_given_up), keyed by the job."""
    return [Finding(
        "job_failed", r["job"],
        f"Scheduled job {r['job']} failed (slot {r['scheduled_for']:%Y-%m-%d %H:%M} UTC, "
        f"{r['attempts']} attempt(s)): {str(r['error'] or 'no error recorded')[:300]}",
        {}, {"job": r["job"], "scheduled_for": r["scheduled_for"].isoformat(),
             "attempts": r["attempts"], "error": r["error"],
             "failed_at": r["finished_at"].isoformat(), "where": f"job {r['job']}"})
        for r in facts.jobs_given_up]


def rules_reading(checks) -> list[str]:
    """The alert rules (incident kinds) that judge one of ``checks``."""
    return sorted(kind for kind, rule in RULES.items() if rule.check in checks)


def _programs(ids) -> str:
    ids = sorted({str(i) for i in ids if i})
    if not ids:
        return ""
    return ("program " if len(ids) == 1 else "programs ") + id_list(ids, len(ids))


def id_list(ids: list, total: int, shown: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``."""
    head = ", ".join(str(i) for i in ids[:shown])
    more = total - min(len(ids), shown)
    return f"{head} and {more} more" if more > 0 else head


# (the incident kinds a rule words, the rule): evaluate_rules runs each on its own
_RULE_FUNCTIONS: tuple[tuple[tuple[str, ...], Callable[[Facts, Settings], list[Finding]]], ...] = (
    (("ledger_imbalance",), _ledger),
    ((check_names.LEDGER_TAMPER,), lambda facts, _settings: _tamper(facts)),
    (("worker_down",), _workers),
    ((check_names.QUEUE_PAUSED,), lambda facts, _settings: _paused(facts)),
    ((check_names.QUEUE_DEPTH,), _queue),
    ((check_names.STUCK_INTENTS,), _stuck),
    ((check_names.WEBHOOK_EXHAUSTED, "webhook_endpoint_failing"), _webhooks),
    (("replica_lag",), _replica),
    (("check_error",), _blind),
    (("job_failed",), _jobs),
)
