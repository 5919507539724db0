-- A recent settlement whose transaction the RPC never saw.
DELETE FROM public.chain_transactions
WHERE tx_hash = (SELECT tx_hash FROM public.settlements ORDER BY confirmed_at DESC, id
                 OFFSET 10 LIMIT 1);
