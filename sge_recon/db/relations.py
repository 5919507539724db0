"""Where the platform's contract-shaped relations are: the seam that platform profiles fill.

Product SQL (checks, console queries, live facts, exports) never names a platform schema. It writes
``platform.<contract table>`` (DESIGN §4 names), and every statement that goes through
:class:`~sge_recon.db.connection.Database` is resolved here against the active profile:

* ``contract`` (the default): ``platform.ledger_entries`` → ``"public"."ledger_entries"``, the
  platform's own tables, no views;
* any other profile: the contract-shaped views that ``sge-recon db init`` created from the profile
  in sge-recon's own schema :data:`PROFILE_SCHEMA`.

Only an unquoted ``platform.`` that is not itself part of a longer name (``x.platform.y``,
``myplatform.y``) is a reference; a resolved statement contains none, so resolving is idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ProfileError
from .status_predicates import StatusLabels
from .status_predicates import rewrite as rewrite_status_predicates

PROFILE_SCHEMA = "recon_platform"  # sge-recon's own schema for a profile's contract-shaped views
# names of that schema's objects that the drift classifier (profile_drift.py) reads in errors;
# here, not in profile_views/profile_guard, so the connection's error path imports no builder
ROWS_SUFFIX = "__rows"  # recon_platform."<table>__rows"(): the function a mapped view reads
STATUS_LABELS = "profile_status_labels"  # recon_platform.profile_status_labels(): the enums' labels
SEARCH_PATH_STATE = "RP001"  # the SQLSTATE of recon_platform.reads_as_built's refusal
_REFERENCE = re.compile(r'(?<![\w."$])platform\.([A-Za-z_][A-Za-z0-9_]*)\b')

# What ledger_tamper's per-row fingerprint hashes: the contract columns (recon.ledger_row_hash), or
# under a profile's `fingerprint:` the platform's own columns, hashed in the view's ROW_HASH_COLUMN
# (db/profile_views.py; the checkpoint's SQL is rewritten onto it by db/ledger_order.py).
# The contract definition's identity, recorded with the checkpoint (fingerprinted_by): it names
# the body of recon.ledger_row_hash ("contract" before migration 0031's record hash), so that a
# checkpoint summed under an older body is rebuilt, not compared.
CONTRACT_FINGERPRINT = "contract:record"
ROW_HASH_COLUMN = "row_hash__source"

# DESIGN §4: the contract's relations, in dependency order (a view may join earlier ones).
CONTRACT_TABLES = (
    "programs", "affiliates", "users", "settlement_intents", "settlements", "chain_transactions",
    "ledger_entries", "commissions", "payout_batches", "payout_approvals", "webhook_endpoints",
    "webhook_deliveries", "worker_heartbeats", "jobs", "queue_control", "rpc_calls",
)

# Contract tables a profile may leave unmapped (db/contract.py's OPTIONAL_CONTRACT), after the
# required ones (a view may join earlier ones), and why each is absent where it is not mapped.
OPTIONAL_TABLES = ("payout_items",)
PROFILE_TABLES = CONTRACT_TABLES + OPTIONAL_TABLES
NOT_MAPPED = {
    "payout_items": "no payout line items are mapped: the profile has no tables.payout_items",
}
CONTRACT_ABSENT = {
    "payout_items": "the reference platform keeps no payout line items: a batch pays its "
                    "commissions themselves",
}

# Relations beside the contract that the product reads when the platform has them (the reference
# platform's admin audit log, exported for auditors; its webhook attempt history, shown per
# delivery). A profile may provide them as views too; where it does not, readers treat the
# relation as missing (the export writes it empty, the console says the history is not kept).
OPTIONAL_RELATIONS = ("admin_audit_log", "webhook_attempts")


def referenced_tables(sql: str) -> list[str]:
    """The contract tables a statement reads through ``platform.<table>``, in order, once each."""
    return list(dict.fromkeys(m.group(1) for m in _REFERENCE.finditer(sql)))


@dataclass(frozen=True)
class QueueDeclaration:
    """Where the platform's job queues live when they are not a PostgreSQL table (DESIGN §11):
    the profile's ``queues:`` entry. ``kind`` is ``bullmq`` (BullMQ on Redis, read through
    ``REDIS_URL``); ``settlement_queue`` is the queue whose depth is ``queue_depth`` and whose
    workers are ``worker_status``; ``queues`` are all the queues the console shows."""

    kind: str = "bullmq"
    settlement_queue: str = "settlement"
    queues: tuple[str, ...] = ("settlement",)
    prefix: str = "bull"


# The admin API dialects sge-recon speaks: DESIGN §6 (sge_recon/admin_client.py) and SGE's /api/v2
# (sge_recon/sge_admin_client.py).
ADMIN_APIS = ("contract", "sge")


@dataclass(frozen=True)
class PlatformRelations:
    """The active profile's view of the platform: where each contract table is, which are absent.

    ``absent`` maps a contract table to the profile's reason (``"the SGE platform sends no
    outbound webhooks"``); such a table still resolves (to an empty relation of the contract's
    shape), so that queries run, but every signal built on it is ``unavailable``.
    """

    profile: str = "contract"
    schema: str = "public"
    absent: dict[str, str] = field(default_factory=lambda: dict(CONTRACT_ABSENT))
    # check name -> why this platform cannot support it although its tables are mapped
    limitations: dict[str, str] = field(default_factory=dict)
    # What orders the ledger for the incremental checkpoint (db/ledger_checkpoint.py): "id" (a
    # bigint sequence: the contract platform), "created_at" (a profile's platform, whose ids are
    # its own, e.g. text cuids) or "cuid" (the same time, read from the cuid id's time prefix, so
    # that the platform's primary key serves the range scans); the latter two with a lag that
    # bounds how far a row's time may lie before its transaction's start (client clocks,
    # timestamps taken inside the transaction).
    ledger_order: str = "id"
    ledger_order_lag_seconds: int = 300
    # Columns of ledger_entries that identify a journal transaction one-to-one (the profile's
    # journal_key, e.g. ref_type, ref_id on SGE): the incremental checks look journals up by them,
    # which the platform indexes, instead of by the computed transaction_id, which it cannot.
    journal_key: tuple[str, ...] = ()
    # The profile's status maps, (table, column, ((contract value, platform labels), …)): status
    # predicates are rewritten onto the labels, which the platform has statistics and indexes
    # for (db/status_predicates.py)
    status_labels: StatusLabels = ()
    # the platform's queues outside PostgreSQL (None: the contract's jobs table, if any)
    queues: QueueDeclaration | None = None
    # which admin API the platform has (ADMIN_APIS)
    admin_api: str = "contract"
    # what ledger_tamper's fingerprints hash: CONTRACT_FINGERPRINT, or the identity of the
    # profile's `fingerprint:` (its ledger view then has ROW_HASH_COLUMN)
    row_fingerprint: str = CONTRACT_FINGERPRINT

    def __hash__(self) -> int:  # frozen + dict fields: hash what identifies the mapping
        return hash((self.profile, self.schema, tuple(sorted(self.absent.items())),
                     tuple(sorted(self.limitations.items())), self.ledger_order,
                     self.ledger_order_lag_seconds, self.journal_key, self.status_labels,
                     self.queues, self.admin_api, self.row_fingerprint))

    def relation(self, table: str) -> str:
        """The quoted, schema-qualified relation of one contract table."""
        if table not in PROFILE_TABLES and table not in OPTIONAL_RELATIONS:
            raise ProfileError(
                f"platform.{table} is not a contract table (DESIGN §4); use one of "
                f"{', '.join(PROFILE_TABLES)}")
        return f'"{self.schema}"."{table}"'

    def resolve(self, sql: str) -> str:
        """``sql`` with every ``platform.<table>`` replaced by the relation of this profile."""
        if "platform." not in sql:
            return sql
        return _resolve(self, sql)

    def unavailable_reason(self, tables: list[str] | tuple[str, ...]) -> str | None:
        """Why a signal that reads ``tables`` cannot be had here, or None when it can."""
        reasons = [self.absent[t] for t in tables if t in self.absent]
        return "; ".join(dict.fromkeys(reasons)) if reasons else None

    def has(self, table: str) -> bool:
        return table not in self.absent


@lru_cache(maxsize=4096)
def _resolve(relations: PlatformRelations, sql: str) -> str:
    if relations.status_labels:
        sql = rewrite_status_predicates(sql, relations.status_labels)
    return _REFERENCE.sub(lambda m: relations.relation(m.group(1)), sql)


CONTRACT_RELATIONS = PlatformRelations()
