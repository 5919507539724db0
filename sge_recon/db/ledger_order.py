"""The ledger's order key and journal lookups of the incremental checkpoint, per profile.

The checkpoint's SQL (db/ledger_checkpoint.py, checks/ledger_tamper.sql, checks/fused/) is written
once, on the contract platform's terms: ``id > :watermark`` / ``id <= …`` on the bigint sequence,
and journal transactions looked up by ``transaction_id``. :func:`keyed_sql` rewrites it for the
active profile so that each statement stays a range or lookup that the platform's OWN indexes
serve (a profile never creates an index on a platform table):

* order ``created_at`` — entries ordered by their time (epoch microseconds); served by an index on
  the view's created_at expression if the platform has one, a sequential scan otherwise;
* order ``cuid`` — the same time, read from the id: a cuid (v1, Prisma's ``@default(cuid())``) is
  ``c`` + 8 base-36 digits of its creation time in milliseconds + 16 more characters, so "time
  above the watermark" is "id at or above the cuid prefix of the next millisecond", a range of
  the platform's primary key (``recon.ledger_cuid_floor``, migration 0028). An id below the
  cuid prefix of 2010 (:data:`NO_CUID_BELOW`: a UUID, an upper-case id) is no cuid: it counts as
  new in every run (a second range of the key) and never as history. The proof of the
  watermark (ledger_checkpoint.py) holds unchanged: it needs only an order key that is at least
  the row's transaction's start minus the lag, and a cuid's time is stamped by the writing
  client, as a client-stamped created_at is;
* ``fingerprint`` — the platform's own columns that ledger_tamper hashes per row, instead of the
  contract columns: the view's ``row_hash__source`` replaces the ``recon.ledger_row_hash(…)`` of
  the contract columns, so that a column the view derives through a join (SGE: intent_id, from
  the entry's settlement) or a CASE (type, account) is neither joined nor computed to be hashed;
* ``journal_key`` — the view's columns that identify a journal transaction one-to-one (SGE:
  ``ref_type, ref_id``, whose concatenation is transaction_id): the journals the new entries touch
  are looked up by them (the platform's ``("refType", "refId")`` index) instead of by the
  computed transaction_id (no index can serve it).
"""

from __future__ import annotations

import re

from .relations import CONTRACT_FINGERPRINT, ROW_HASH_COLUMN, PlatformRelations

_KEY_PREDICATE = re.compile(r"\b(WHERE|AND) id (>|<=) "
                            r"(%\(\w+\)s|:\w+|\(SELECT watermark FROM checkpoint\))")
# created_at itself compared with the watermark turned back into a time (exact: epoch
# microseconds of today are far below 2^53), so that an index on the view's created_at
# expression serves the range if the platform has one.
_TIME_PREDICATE = r"\1 created_at \2 ('epoch'::timestamptz + (\3) * interval '1 microsecond')"
# id above the watermark W: its cuid time (ms) is at least W div 1000 + 1, i.e. the id is at or
# above that millisecond's prefix (a range of the primary key); at or below W: below it. The
# latter is reconciled history, nearly the whole ledger: `id || ''` (same value, same collation)
# keeps its upper bound off the index, where a watermark read from a table leaves the planner
# guessing a third of the rows and choosing a bitmap scan of all of them (17 s instead of a 1 s
# sequential scan at 2 M entries, ledger_tamper). The lower bound stays on the plain id: the
# planner reads it from the column's statistics (nearly every row), not as one half of a range
# of an expression, which it guesses at 0.5 % of the rows and then groups millions of entries
# by sorting them on disk instead of hashing them (ledger_tamper 1.9 s -> 1.0 s at 2 M entries).
# Above: the bound of a query parameter is folded when the statement is planned, so the planner
# sees the range (a minute of entries) and takes the primary key. At or below: the bound is an
# uncorrelated subquery, computed once (a function of a value read from a table is not folded
# and would otherwise run for every row of the scan).
#
# An id below the cuid prefix of 2010-01-01 (NO_CUID_BELOW: cuids were first published in 2012)
# is no cuid the platform wrote: a UUID ('0b9c…', 'c0b9…'), an upper-case or hand-made id
# ('ADJ-1', 'adj-1'). Its "time" says nothing, so it is never reconciled history: it counts as
# new in every run (a second range of the primary key, usually empty) and is never checkpointed;
# otherwise it would sort below the watermark and only the daily ledger_tamper would see it. Ids
# above every cuid ('d…', a UUID 'e…') are above any watermark and new already.
NO_CUID_BELOW = "recon.ledger_cuid_floor(1262304000000000)"  # 2010-01-01T00:00:00Z, 'cg…'
_CUID_PREDICATE = {">": rf"\1 (id >= recon.ledger_cuid_floor(\3) OR id < {NO_CUID_BELOW})",
                   "<=": rf"\1 (id >= {NO_CUID_BELOW} "
                         r"AND (id || '') < (SELECT recon.ledger_cuid_floor(\3)))"}

# The two journal phrases of the checkpoint's SQL, rewritten under a profile's journal_key.
TOUCHED_JOURNALS = "SELECT DISTINCT transaction_id FROM platform.ledger_entries"
OF_TOUCHED = "transaction_id IN (SELECT transaction_id FROM touched)"
# The entries without a transaction_id are one transaction (as GROUP BY groups them), which neither
# `IN` nor a journal key ever matches: read, by a branch of its own, only when one is touched
# (under a profile, `transaction_id IS NULL` is computed per row of the view: no index serves it,
# but the uncorrelated EXISTS skips the scan unless such an entry is new).
NULL_TOUCHED = ("transaction_id IS NULL "
                "AND EXISTS (SELECT 1 FROM touched WHERE transaction_id IS NULL)")
_TOUCHED = re.compile(r"SELECT DISTINCT transaction_id FROM (\S+) WHERE")


# The checkpoint's per-row hash of the contract columns (checks/ledger_tamper.sql, checks/fused/,
# ledger_checkpoint.py), however its arguments are laid out.
_CONTRACT_ROW_HASH = re.compile(
    r"recon\.ledger_row_hash\(\s*id,\s*program_id,\s*transaction_id,\s*intent_id,\s*account,"
    r"\s*type,\s*amount,\s*currency,\s*created_at\s*\)")


def needs_keying(relations: PlatformRelations) -> bool:
    return relations.ledger_order != "id" or bool(relations.journal_key) or \
        relations.row_fingerprint != CONTRACT_FINGERPRINT


def keyed_sql(text: str, relations: PlatformRelations) -> str:
    """``text`` with its ledger-id comparisons (``WHERE id > …``, ``AND id <= …``) made on the
    ledger's order under ``relations``, its journal lookups made on the profile's journal_key,
    and its row hashes on the profile's fingerprint; unchanged on the contract platform."""
    if relations.ledger_order == "created_at":
        text = _KEY_PREDICATE.sub(_TIME_PREDICATE, text)
    elif relations.ledger_order == "cuid":
        text = _KEY_PREDICATE.sub(lambda m: m.expand(_CUID_PREDICATE[m.group(2)]), text)
    if relations.row_fingerprint != CONTRACT_FINGERPRINT:
        text = _CONTRACT_ROW_HASH.sub(ROW_HASH_COLUMN, text)
    if relations.journal_key and OF_TOUCHED in text:
        key = ", ".join(relations.journal_key)
        # before or after platform.<table> is resolved: either way, the key columns must come
        # from `touched` itself (were they missing there, the names would silently refer to the
        # outer row: every entry would match)
        text, found = _TOUCHED.subn(rf"SELECT DISTINCT transaction_id, {key} FROM \1 WHERE", text)
        if not found:
            raise ValueError("a journal lookup without its `touched` set: keep TOUCHED_JOURNALS "
                             "and OF_TOUCHED together in the checkpoint's SQL")
        text = text.replace(OF_TOUCHED, f"({key}) IN (SELECT {key} FROM touched)")
    return text
