-- transaction_balance's difference is exact from this release (at least six decimals, none
-- rounded away); the unbalanced transactions a checkpoint recorded before hold it rounded to 6
-- places, so on a platform whose amounts have more decimals the per-minute run kept showing a
-- transaction off by 0.0000001 as "difference 0.000000". A checkpoint that recorded any is
-- rebuilt from the rows as they are now (watermark 0, as a profile change does): the next
-- per-minute runs read the whole ledger until the watermark moves again.
UPDATE recon.ledger_checkpoint
SET watermark = 0, entries = 0, pending_watermark = NULL, pending_vxids = NULL,
    pending_xmax = NULL, pending_at = NULL
WHERE EXISTS (SELECT 1 FROM recon.ledger_checkpoint_unbalanced);

DELETE FROM recon.ledger_checkpoint_totals
WHERE EXISTS (SELECT 1 FROM recon.ledger_checkpoint WHERE watermark = 0);
DELETE FROM recon.ledger_checkpoint_unbalanced
WHERE EXISTS (SELECT 1 FROM recon.ledger_checkpoint WHERE watermark = 0);
