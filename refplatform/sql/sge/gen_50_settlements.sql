-- One CONFIRMED "Settlement" per CONFIRMED intent, written when the intent completed, and its
-- journal (refType SETTLEMENT, refId = the settlement id, "settlementId" set), signed amounts:
--   REGISTER          debit program treasury, credit program revenue
--   COMMERCE_PAYMENT  debit program treasury; credit revenue (amount - 2 % fee) and system:fees
--   CLAIM             debit user:<uid>:claims, credit program treasury
--   PAYOUT            debit affiliate:<aid>:paid, credit system:suspense
INSERT INTO public."Settlement" ("id", "programId", "intentId", "wallet", "type", "token",
    "amount", "txHash", "blockNumber", "blockTimestamp", "status", "verified", "verifiedAt",
    "createdAt", "updatedAt")
SELECT i.settlement_id, i.program_id, i.id, i.wallet,
       CASE i.type WHEN 'REGISTER' THEN 'MINT' WHEN 'COMMERCE_PAYMENT' THEN 'PAYMENT'
                   WHEN 'CLAIM' THEN 'CLAIM' ELSE 'PAYOUT' END,
       CASE WHEN i.type = 'CLAIM' THEN 'SGE' ELSE 'USDC' END,
       i.amount, i.tx_hash,
       19000000 + floor(extract(epoch FROM i.block_timestamp) / 12)::bigint - 140000000,
       i.block_timestamp, 'CONFIRMED', NOT i.unverified,
       CASE WHEN NOT i.unverified THEN (i.completed_at + interval '2 seconds')::timestamp(3) END,
       i.completed_at,
       CASE WHEN NOT i.unverified THEN (i.completed_at + interval '2 seconds')::timestamp(3)
            ELSE i.completed_at END
FROM sge_intent i
WHERE i.status = 'CONFIRMED';

INSERT INTO public."LedgerEntry" ("id", "programId", "account", "counterparty", "amount",
    "currency", "refType", "refId", "settlementId", "description", "createdAt")
SELECT pg_temp.sge_cuid(j.completed_at, j.n * 4 + j.leg, 6, j.seed), j.program_id,
       j.accounts[j.leg + 1], CASE WHEN j.leg = 0 THEN j.accounts[2] ELSE j.accounts[1] END,
       j.amounts[j.leg + 1], 'USD', 'SETTLEMENT', j.settlement_id, j.settlement_id,
       CASE WHEN j.leg = 0 THEN 'DEBIT: ' ELSE 'CREDIT: ' END || j.descriptions[j.leg + 1],
       j.completed_at
FROM (
    SELECT i.n, i.program_id, i.settlement_id, i.completed_at, sp.seed, l.leg, p.accounts,
           p.amounts, p.descriptions
    FROM sge_intent i
    CROSS JOIN sge_params sp
    CROSS JOIN LATERAL (
        SELECT CASE i.type
                    WHEN 'REGISTER' THEN ARRAY['program:' || i.program_id || ':treasury',
                                               'program:' || i.program_id || ':revenue']
                    WHEN 'COMMERCE_PAYMENT' THEN ARRAY['program:' || i.program_id || ':treasury',
                                                       'program:' || i.program_id || ':revenue',
                                                       'system:fees']
                    WHEN 'CLAIM' THEN ARRAY['user:' || i.user_id || ':claims',
                                            'program:' || i.program_id || ':treasury']
                    ELSE ARRAY['affiliate:' || i.payout_affiliate_id || ':paid', 'system:suspense']
               END AS accounts,
               CASE i.type
                    WHEN 'COMMERCE_PAYMENT' THEN ARRAY[i.amount, -(i.amount - round(i.amount * 0.02, 2)),
                                                       -round(i.amount * 0.02, 2)]
                    ELSE ARRAY[i.amount, -i.amount]
               END AS amounts,
               CASE i.type
                    WHEN 'REGISTER' THEN ARRAY['Settlement revenue', 'Settlement revenue']
                    WHEN 'COMMERCE_PAYMENT' THEN ARRAY['Commerce payment', 'Commerce payment',
                                                       'Platform fee']
                    WHEN 'CLAIM' THEN ARRAY['Token claim', 'Token claim']
                    ELSE ARRAY['On-chain payout', 'On-chain payout']
               END AS descriptions
    ) p
    CROSS JOIN LATERAL generate_series(0, cardinality(p.accounts) - 1) l(leg)
    WHERE i.status = 'CONFIRMED'
) j;

-- What the settlements did to their users: the SGE-ID minted on registration, the first claim.
UPDATE public."User" u SET
    "sgeidTokenId" = x.token_id, "sgeidMintedAt" = x.minted_at,
    "hasClaimed" = x.claimed_at IS NOT NULL, "claimedAt" = x.claimed_at, "claimTxHash" = x.claim_tx,
    "updatedAt" = greatest(u."createdAt", x.minted_at, x.claimed_at)
FROM (
    SELECT i.user_id,
           min(i.n) FILTER (WHERE i.type = 'REGISTER') AS token_id,
           min(i.completed_at) FILTER (WHERE i.type = 'REGISTER') AS minted_at,
           min(i.completed_at) FILTER (WHERE i.type = 'CLAIM') AS claimed_at,
           (array_agg(i.tx_hash ORDER BY i.completed_at) FILTER (WHERE i.type = 'CLAIM'))[1] AS claim_tx
    FROM sge_intent i
    WHERE i.status = 'CONFIRMED' AND i.type IN ('REGISTER', 'CLAIM')
    GROUP BY i.user_id
) x
WHERE u."id" = x.user_id;
