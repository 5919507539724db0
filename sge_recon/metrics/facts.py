"""Live operational facts, read from the database in one pass: the numbers behind both the alert
rules and ``/metrics``, so that an alert and the metric a dashboard shows never disagree.

Every query is either indexed on a small live subset (waiting jobs, stuck intents, failing
deliveries) or one aggregate over the ledger, and ``now`` comes from the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..config import Settings
from ..db import Database, ledger_checkpoint, ops
from ..db.relations import CONTRACT_RELATIONS, PlatformRelations
from .. import check_names

WORKER_STATUSES = ("healthy", "degraded", "down")


@dataclass
class LedgerDifference:
    program_id: str
    currency: str
    total_debits: Decimal
    total_credits: Decimal
    difference: Decimal  # debits - credits


@dataclass
class Facts:
    now: datetime
    ledger: list[LedgerDifference]
    workers_recent: int
    workers_live: int
    last_heartbeat_at: datetime | None
    worker_status: str
    job_p50_recent: Decimal | None
    job_p50_baseline: Decimal | None
    queue_depth: int
    queue_money: dict[str, Decimal]
    stuck_intents: int            # past INTENT_TIMEOUT_MINUTES
    stuck_intents_failing: int    # past INTENT_STUCK_FAIL_MINUTES
    stuck_money: dict[str, Decimal]  # of the failing ones, per currency
    oldest_stuck_at: datetime | None
    webhook_exhausted: int
    webhook_retrying: int
    failing_endpoints: list[dict] = field(default_factory=list)
    processing_mean_seconds: Decimal | None = None
    processing_sample: int = 0
    # rows of the newest daily ledger_tamper result when it failed (history was modified)
    ledger_tamper: list[dict] = field(default_factory=list)
    # the first few ids behind the alerts: {"id", "program_id"} / {"id", "endpoint_id"}
    stuck_examples: list[dict] = field(default_factory=list)
    exhausted_examples: list[dict] = field(default_factory=list)
    # check name -> reason: signals the connected platform has no data for (its profile says so);
    # they raise no alert and export no series (an absent series is not a zero)
    unavailable: dict[str, str] = field(default_factory=dict)
    # where queue depth and workers were measured when not PostgreSQL (e.g. "BullMQ queue intents
    # on Redis at redis://host:6379/0"); None: the jobs and worker_heartbeats tables
    queue_source: str | None = None
    # platform reads on a standby (PLATFORM_READ_URL): where, how far behind the primary, and the
    # sentence when it is beyond REPLICA_MAX_LAG_SECONDS, paused or unreachable (then these facts
    # were read on the primary instead: alerting never goes blind or stale with the replica)
    replica_where: str | None = None
    replica_lag_seconds: Decimal | None = None
    replica_paused: bool = False
    replica_problem: str | None = None
    # the settlement queue is paused (queue_paused): since when and by whom, when the platform
    # records it (BullMQ keeps neither)
    queue_paused: bool = False
    queue_paused_at: datetime | None = None
    queue_paused_by: str | None = None

    def has(self, check: str) -> bool:
        return check not in self.unavailable

    @property
    def worker_down_seconds(self) -> Decimal | None:
        """How long the workers have been down, from the last heartbeat; None when up (or when
        no worker has ever reported: there is nothing to measure from)."""
        if self.worker_status != "down" or self.last_heartbeat_at is None:
            return None
        return Decimal(str((self.now - self.last_heartbeat_at).total_seconds()))


def gather_facts(db: Database, settings: Settings, now: datetime,
                 platform_db: Database | None = None) -> Facts:
    """The live facts. ``db`` is DATABASE_URL (sge-recon's state); ``platform_db`` the server
    the platform is read on (a standby of PLATFORM_READ_URL; default ``db``). The platform part
    (and the ledger checkpoint it adds to, replicated with it) is read there in one snapshot;
    the stored tamper findings on ``db``. A standby that is too far behind, paused or down is
    reported in ``replica_problem`` and the platform part is read on ``db`` for this round."""
    from ..replica import freshness

    unavailable = _unavailable_signals(db, settings)
    read = platform_db or db
    fresh = freshness(read, db, settings)
    if fresh.refusal is not None:
        read = db
    with ops.snapshot(read) as snap:
        facts = _facts(snap, settings, now, read.relations)
        if read is db:
            facts.ledger_tamper = ledger_checkpoint.latest_tamper_findings(snap)
    if read is not db:  # the stored findings: sge-recon's state, on DATABASE_URL
        facts.ledger_tamper = ledger_checkpoint.latest_tamper_findings(db)
    if fresh.reading is not None or fresh.refusal is not None:
        facts.replica_where = fresh.where
        facts.replica_lag_seconds = fresh.lag_seconds
        facts.replica_paused = bool(fresh.reading and fresh.reading.paused)
        facts.replica_problem = fresh.refusal
    facts.unavailable = unavailable
    apply_queue_source(facts, db, settings)
    if check_names.WORKER_STATUS in facts.unavailable:
        facts.worker_status = "unavailable"
    return facts


def apply_queue_source(facts: Facts, db: Database, settings: Settings) -> None:
    """Where the profile declares the queues on Redis (BullMQ) and REDIS_URL is set, the queue
    depth and the workers come from there (the same snapshot the checks read). When Redis cannot
    be read, both signals are withheld with the sentence (no alert, no series: an unknown is not
    a zero and not a pass); the check run reports them as ``error``."""
    from ..queues import QUEUE_CHECKS, QueueUnavailable, queue_source

    source = queue_source(settings, db.relations)
    if source is None:
        return
    try:
        snap = source.depth()
    except QueueUnavailable as exc:
        for name in QUEUE_CHECKS:
            facts.unavailable[name] = exc.message
        return
    workers = snap.settlement_workers
    facts.queue_depth = snap.depth
    facts.queue_money = {}
    facts.queue_paused = snap.settlement.paused
    facts.queue_paused_at = facts.queue_paused_by = None
    facts.workers_recent = len(workers)
    facts.workers_live = len(workers)
    facts.worker_status = snap.worker_state
    facts.queue_source = f"BullMQ queue {snap.settlement_queue} on {snap.where}"
    # BullMQ keeps no heartbeat history: "down since" is the start of the unbroken run of
    # stored worker_status failures (the per-minute checks), so the alert waits out
    # WORKER_DOWN_ALERT_MINUTES as it does on heartbeats.
    facts.last_heartbeat_at = _down_since(db, facts.now) if snap.worker_state == "down" else None
    facts.job_p50_recent = facts.job_p50_baseline = None
    for name in QUEUE_CHECKS:
        facts.unavailable.pop(name, None)


def _down_since(db: Database, now: datetime) -> datetime:
    from ..db import checks as store

    since = now
    try:
        rows = store.result_history(db, check_names.WORKER_STATUS, 240)
    except Exception:  # noqa: BLE001 - no history readable: down from now
        return since
    for r in rows:  # newest first
        if r["status"] != "fail" or r["started_at"] is None:
            break
        since = min(since, r["started_at"])
    return since


def _unavailable_signals(db: Database, settings: Settings) -> dict[str, str]:
    if not db.relations.absent and not db.relations.limitations:
        return {}  # the contract platform has every relation: no catalogue read needed
    from ..checks import CheckService

    return CheckService(settings, db).unavailable()


def _facts(db: "ops.Snapshot", settings: Settings, now: datetime,
           relations: PlatformRelations = CONTRACT_RELATIONS) -> Facts:
    workers = ops.worker_facts(db, now, settings.WORKER_DOWN_SECONDS)
    p50 = ops.job_duration_p50(db, now)
    queue = ops.queue_facts(db)
    paused = ops.queue_pause(db)
    stuck = ops.stuck_intent_facts(db, now, settings.INTENT_TIMEOUT_MINUTES,
                                   settings.INTENT_STUCK_FAIL_MINUTES)
    hooks = ops.webhook_delivery_facts(db)
    processing = ops.processing_time(db)
    recent_p50 = _dec(p50["recent"])
    baseline_p50 = _dec(p50["baseline"])
    return Facts(
        now=now,
        ledger=[LedgerDifference(r["program_id"], r["currency"], r["total_debits"],
                                 r["total_credits"], r["difference"])
                for r in ledger_checkpoint.ledger_differences(db, relations)],  # checkpoint + new rows
        workers_recent=workers["recent"], workers_live=workers["live"],
        last_heartbeat_at=workers["last_heartbeat_at"],
        worker_status=worker_status(workers["recent"], workers["live"], recent_p50, baseline_p50),
        job_p50_recent=recent_p50, job_p50_baseline=baseline_p50,
        queue_depth=sum(r["depth"] for r in queue),
        queue_money={r["currency"]: r["amount"] for r in queue if r["currency"]},
        queue_paused=paused is not None,
        queue_paused_at=paused["changed_at"] if paused else None,
        queue_paused_by=paused["changed_by"] if paused else None,
        stuck_intents=sum(r["stuck"] for r in stuck),
        stuck_intents_failing=sum(r["stuck_fail"] for r in stuck),
        stuck_money={r["currency"]: r["amount_fail"] for r in stuck if r["stuck_fail"]},
        oldest_stuck_at=min((r["oldest"] for r in stuck), default=None),
        webhook_exhausted=hooks["exhausted"], webhook_retrying=hooks["retrying"],
        failing_endpoints=ops.failing_endpoints(db, now, settings.WEBHOOK_CONSECUTIVE_FAILURES,
                                                settings.WEBHOOK_DISABLE_HOURS),
        processing_mean_seconds=_dec(processing["mean_seconds"]),
        processing_sample=processing["n"],
        stuck_examples=ops.stuck_intent_ids(db, now, settings.INTENT_STUCK_FAIL_MINUTES)
        if any(r["stuck_fail"] for r in stuck) else [],
        exhausted_examples=ops.exhausted_delivery_ids(db) if hooks["exhausted"] else [],
    )


def worker_status(recent: int, live: int, p50_recent: Decimal | None,
                  p50_baseline: Decimal | None) -> str:
    """DESIGN §5: down = no heartbeat within WORKER_DOWN_SECONDS; degraded = some workers down
    while others live, or recent p50 job time above twice the 7-day baseline."""
    if live == 0:
        return "down"
    if recent > live:
        return "degraded"
    if p50_recent is not None and p50_baseline and p50_recent > 2 * p50_baseline:
        return "degraded"
    return "healthy"


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))
