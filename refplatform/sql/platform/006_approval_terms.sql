-- What each approver approved (beside the contract's payout_approvals, which keeps who and when):
-- the batch's total_amount and affiliate_count when the approval was given. An execute pays only
-- a batch that still says what every approver approved (a batch whose header was rewritten after
-- an approval, together with new commissions, is refused).
CREATE TABLE IF NOT EXISTS public.payout_approval_terms (
    batch_id         text NOT NULL,
    approver         text NOT NULL,
    total_amount     numeric(38,6) NOT NULL,
    affiliate_count  integer NOT NULL,
    PRIMARY KEY (batch_id, approver)
);
