"""The tamper-evident journal (recon.journal, migration 0021) in an audit export.

Each entry's ``hash`` is sha256(``prev_hash`` || ``event``) over UTF-8, ``event`` being the
canonical JSON text that the database hashed (it embeds the entry's ``seq``); the first entry ever
follows 64 zeros. The export writes the month's entries to ``journal.parquet`` and their anchors
(first/last seq and hashes) to the manifest; ``export verify`` recomputes the chain, so a removed,
inserted, reordered or altered entry is named by its seq.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

GENESIS = "0" * 64
FILE = "journal.parquet"
SAMPLE = 20  # problems named one by one; the count is always given


def entry_hash(prev_hash: str, event: str) -> str:
    return hashlib.sha256((prev_hash + event).encode("utf-8")).hexdigest()


@dataclass
class Chain:
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_prev_hash: str | None = None
    last_hash: str | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def anchors(self) -> dict[str, Any]:
        """What the manifest states about the month's journal."""
        return {"file": FILE, "entries": self.entries, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "first_prev_hash": self.first_prev_hash,
                "last_hash": self.last_hash,
                "hash": "sha256(prev_hash || event), UTF-8; the first entry ever follows "
                        "64 zeros"}

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < SAMPLE:
            self.problems.append(text)


def walk(rows: Iterable[tuple]) -> Chain:
    """Recompute the chain over (seq, prev_hash, hash, event) rows in seq order."""
    chain = Chain()
    prev: tuple | None = None
    for seq, prev_hash, digest, event in rows:
        seq = int(seq)
        chain.entries += 1
        if prev is None:
            chain.first_seq, chain.first_prev_hash = seq, prev_hash
        if entry_hash(prev_hash or "", event or "") != digest:
            chain.problem(f"journal entry seq {seq} was altered: its hash does not match its "
                          "contents")
        elif _event_seq(event) != seq:
            chain.problem(f"journal entry seq {seq} was renumbered: its event says seq "
                          f"{_event_seq(event)}")
        if prev is not None:
            if seq != prev[0] + 1:
                missing = (f"seq {prev[0] + 1}" if seq == prev[0] + 2
                           else f"seq {prev[0] + 1}–{seq - 1}")
                chain.problem(f"journal entry {missing} is missing (between seq {prev[0]} and "
                              f"seq {seq})" if seq > prev[0] + 1 else
                              f"journal entry seq {seq} is duplicated or out of order")
            elif prev_hash != prev[1]:
                chain.problem(f"journal entry seq {seq} does not follow seq {prev[0]}: its "
                              "prev_hash is not that entry's hash (an entry was replaced)")
        prev = (seq, digest)
        chain.last_seq, chain.last_hash = seq, digest
    return chain


def compare_anchors(chain: Chain, stated: dict[str, Any]) -> list[str]:
    """Where the file's chain disagrees with what the manifest states (entries cut at an end)."""
    out = []
    if stated.get("entries") != chain.entries:
        out.append(f"the journal holds {chain.entries} entries, the manifest says "
                   f"{stated.get('entries')}")
    if stated.get("first_seq") != chain.first_seq or \
            stated.get("first_prev_hash") != chain.first_prev_hash:
        out.append(f"the journal starts at seq {chain.first_seq}, the manifest says seq "
                   f"{stated.get('first_seq')}: entries at the start were removed or added")
    if stated.get("last_seq") != chain.last_seq or stated.get("last_hash") != chain.last_hash:
        out.append(f"the journal ends at seq {chain.last_seq}, the manifest says seq "
                   f"{stated.get('last_seq')}: entries at the end were removed or altered")
    return out


def _event_seq(event: str) -> int | None:
    try:
        value = json.loads(event).get("seq")
        return int(value) if value is not None else None
    except (ValueError, AttributeError, TypeError):
        return None
