-- A completed intent has been paid and booked: a settlement that claims it and journal entries
-- that carry its id. Either missing means money moved (or was promised) without its record.
SELECT i.id AS intent_id, i.program_id, i.amount, 'no_settlement' AS problem
FROM platform.settlement_intents i
WHERE i.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM platform.settlements s WHERE s.intent_id = i.id)
UNION ALL
SELECT i.id, i.program_id, i.amount, 'no_journal'
FROM platform.settlement_intents i
WHERE i.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM platform.ledger_entries e WHERE e.intent_id = i.id)
ORDER BY 1, 4
