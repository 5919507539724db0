"""Two ops leads complete the same unbalanced transaction at the same moment (audit: money under
concurrency). Each sends its own correction (its own Idempotency-Key) to the real admin API over
HTTP; the API must post the missing leg once and refuse the other (the transaction balances by
then), never post it twice, which would unbalance the transaction the other way while both
answers say "balanced". A real table lock makes the overlap certain: the first completion waits
to write its leg while the second arrives."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from .platform_helpers import hold_table_lock
from .test_console_actions import acting_as, api  # noqa: F401 - fixture
from .test_corrections_attempts import desk_for

SUSPENSE_LEG = [{"account": "suspense", "type": "credit", "amount": "1.00", "currency": "USD"}]


def test_two_completions_of_one_transaction_at_once_post_its_missing_leg_once(
        db_url, db, factory, api):  # noqa: F811
    program = factory.program()["id"]
    txn = factory.journal(program, [("treasury", "debit", "100.00"),
                                    ("user:u1", "credit", "99.00")])
    acting_as(db_url, ada="admin", bob="admin")
    outcomes: dict[str, object] = {}

    def complete(operator: str) -> None:
        desk = desk_for(db_url, api, timeout=30)
        outcomes[operator] = desk.submit(operator, program, f"Complete {txn} ({operator})",
                                         SUSPENSE_LEG, transaction_id=txn)

    lock = hold_table_lock(db_url, "public.ledger_entries", 2)  # the first write waits
    first = threading.Thread(target=complete, args=("ada",))
    first.start()
    time.sleep(0.5)  # ada's correction is inside the API, waiting to write its leg
    second = threading.Thread(target=complete, args=("bob",))
    second.start()
    for thread in (first, second, lock):
        thread.join(30)

    legs = db.fetch_all("SELECT type, amount FROM public.ledger_entries WHERE transaction_id = %s"
                        " AND account = 'suspense'", (txn,))
    assert legs == [{"type": "credit", "amount": Decimal("1.000000")}]  # once, not twice
    off = db.fetch_one("SELECT sum(CASE WHEN type = 'debit' THEN amount ELSE -amount END) AS d"
                       " FROM public.ledger_entries WHERE transaction_id = %s", (txn,))["d"]
    assert off == 0
    answers = sorted((o.ok, o.status_code) for o in outcomes.values())
    assert answers == [(False, 409), (True, 200)], [o.message for o in outcomes.values()]
    refused = next(o for o in outcomes.values() if not o.ok)
    assert "already balances" in refused.message
