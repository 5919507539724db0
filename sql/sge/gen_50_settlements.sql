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
SELECT pg_temp.sge_cuid(i.completed_at, i.n * 4 + l.leg, 6, sp.seed), i.program_id,
       l.account, l.counterparty, l.amount, 'USD', 'SETTLEMENT', i.settlement_id, i.settlement_id,
       l.description, i.completed_at
FROM sge_intent i
CROSS JOIN sge_params sp
CROSS JOIN LATERAL (
    SELECT 'program:' || i.program_id || ':treasury' AS treasury,
           'program:' || i.program_id || ':revenue' AS revenue,
           round(i.amount * 0.02, 2) AS fee
) a
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        (0, 'REGISTER'::"IntentType", a.treasury, a.revenue, i.amount, 'DEBIT: Settlement revenue'),
        (1, 'REGISTER', a.revenue, a.treasury, -i.amount, 'CREDIT: Settlement revenue'),
        (0, 'COMMERCE_PAYMENT', a.treasury, a.revenue, i.amount, 'DEBIT: Commerce payment'),
        (1, 'COMMERCE_PAYMENT', a.revenue, a.treasury, -(i.amount - a.fee), 'CREDIT: Commerce payment'),
        (2, 'COMMERCE_PAYMENT', 'system:fees', a.treasury, -a.fee, 'CREDIT: Platform fee'),
        (0, 'CLAIM', 'user:' || i.user_id || ':claims', a.treasury, i.amount, 'DEBIT: Token claim'),
        (1, 'CLAIM', a.treasury, 'user:' || i.user_id || ':claims', -i.amount, 'CREDIT: Token claim'),
        (0, 'PAYOUT', 'affiliate:' || i.payout_affiliate_id || ':paid', 'system:suspense', i.amount,
            'DEBIT: On-chain payout'),
        (1, 'PAYOUT', 'system:suspense', 'affiliate:' || i.payout_affiliate_id || ':paid', -i.amount,
            'CREDIT: On-chain payout')
    ) v(leg, type, account, counterparty, amount, description)
    WHERE v.type = i.type
) l
WHERE i.status = 'CONFIRMED';

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
