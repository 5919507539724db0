-- Every settlement must be on chain, to its program's treasury (the exact address: one that
-- differs only in letter case is another address to this check), with the same amount, and claim
-- a transfer no other settlement claims; every transfer to a program's treasury (in any letter
-- case) must be claimed by a settlement (settlement_id is null for those unknown transfers).
-- NULLs never match: a settlement or transfer without amount or address is a mismatch.
WITH claims AS (
    SELECT s.id, s.tx_hash, s.program_id, s.amount,
           CASE WHEN s.tx_hash IS NULL THEN 1
                ELSE count(*) OVER (PARTITION BY s.tx_hash) END AS claims
    FROM platform.settlements s
)
SELECT c.id AS settlement_id,
       c.tx_hash,
       x.problem,
       c.program_id,
       c.amount AS settlement_amount,
       t.amount AS chain_amount
FROM claims c
LEFT JOIN platform.chain_transactions t ON t.tx_hash = c.tx_hash
LEFT JOIN platform.programs p ON p.id = c.program_id
CROSS JOIN LATERAL (VALUES
    (CASE WHEN t.tx_hash IS NULL THEN 'missing_on_chain' END),
    (CASE WHEN t.tx_hash IS NOT NULL AND t.amount IS DISTINCT FROM c.amount
          THEN 'amount_mismatch' END),
    (CASE WHEN t.tx_hash IS NOT NULL AND t.to_address IS DISTINCT FROM p.treasury_address
          THEN 'wrong_recipient' END),
    (CASE WHEN c.claims > 1 THEN 'duplicate_claim' END)
) AS x (problem)
WHERE x.problem IS NOT NULL
UNION ALL
SELECT NULL, t.tx_hash, 'unknown_transfer', p.id, NULL, t.amount
FROM platform.chain_transactions t
JOIN platform.programs p ON lower(p.treasury_address) = lower(t.to_address)
WHERE NOT EXISTS (SELECT 1 FROM platform.settlements s WHERE s.tx_hash = t.tx_hash)
ORDER BY 3, 2, 1
