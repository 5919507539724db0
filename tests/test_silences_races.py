"""Two ops leads silencing the same thing at the same moment, from two console sessions.

Exactly one silence is created and audited; the other lead is told which silence already covers
it. Two silences of one scope would each mute the incident: the lead who later ends "the"
silence would leave the other one muting the pages until it expires (up to 7 days)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sge_recon.context import Recon

from .conftest import settings_for
from .test_console_actions import acting_as

UTC = timezone.utc


def _at_once(recon: Recon, now: datetime, kind: str, program: str | None) -> dict:
    barrier = threading.Barrier(2)
    outcomes: dict = {}

    def silence(who: str) -> None:
        barrier.wait()
        outcomes[who] = recon.console.actions.add_silence(
            who, kind=kind, program_id=program, reason=f"{who}: ledger migration tonight",
            owner=who, starts_at=now, ends_at=now + timedelta(hours=2))

    threads = [threading.Thread(target=silence, args=(who,)) for who in ("ada", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_two_leads_silencing_one_scope_at_once_make_one_silence(db_url, db):
    recon = Recon(settings_for(db_url))
    acting_as(db_url, ada="operator", bob="operator")
    now = datetime.now(UTC)
    for round_, (kind, program) in enumerate([("ledger_imbalance", None),
                                              ("ledger_imbalance", "prog_a"),
                                              ("stuck_intents", None)] * 2):
        outcomes = _at_once(recon, now + timedelta(seconds=round_), kind, program)
        won = [o for o in outcomes.values() if o.ok]
        told = [o for o in outcomes.values() if not o.ok]
        assert len(won) == 1 and len(told) == 1, [o.message for o in outcomes.values()]
        silence_id = won[0].data["id"]
        assert told[0].message.startswith(f"Failed: silence #{silence_id} "), told[0].message
        active = db.fetch_all("SELECT id FROM recon.silences WHERE ended_at IS NULL "
                              "AND kind = %s AND program_id IS NOT DISTINCT FROM %s",
                              (kind, program))
        assert [r["id"] for r in active] == [silence_id]
        # ending it ends the mute: no twin keeps the pages quiet
        assert recon.console.actions.end_silence("ada", silence_id, now + timedelta(minutes=1)).ok
    audited = db.fetch_all("SELECT result FROM recon.action_log WHERE action = 'add_silence' "
                           "ORDER BY id")
    assert sorted(r["result"] for r in audited) == ["failed"] * 6 + ["ok"] * 6
