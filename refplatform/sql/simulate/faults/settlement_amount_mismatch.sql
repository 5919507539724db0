-- A recent settlement whose on-chain transfer carried 0.50 less than the settlement records.
UPDATE public.chain_transactions SET amount = amount - 0.50
WHERE tx_hash = (SELECT tx_hash FROM public.settlements ORDER BY confirmed_at DESC, id
                 OFFSET 20 LIMIT 1);
