-- Every settlement must be on chain with the same amount, and every transfer to a program's
-- treasury must be claimed by a settlement (settlement_id is null for those unknown transfers).
SELECT s.id AS settlement_id,
       s.tx_hash,
       CASE WHEN t.tx_hash IS NULL THEN 'missing_on_chain' ELSE 'amount_mismatch' END AS problem,
       s.program_id,
       s.amount AS settlement_amount,
       t.amount AS chain_amount
FROM platform.settlements s
LEFT JOIN platform.chain_transactions t ON t.tx_hash = s.tx_hash
WHERE t.tx_hash IS NULL OR t.amount <> s.amount
UNION ALL
SELECT NULL, t.tx_hash, 'unknown_transfer', p.id, NULL, t.amount
FROM platform.chain_transactions t
JOIN platform.programs p ON p.treasury_address = t.to_address
WHERE NOT EXISTS (SELECT 1 FROM platform.settlements s WHERE s.tx_hash = t.tx_hash)
ORDER BY 3, 2
