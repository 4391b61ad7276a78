-- The proof that an earlier attempt was not applied (docs/FULFILMENT.md, "Unknown outcomes"):
-- when a read-back after the quiet period first found nothing, in epoch milliseconds by the
-- database's clock. A second read-back at least the recheck gap later that also finds nothing
-- lets the row be sent again. NULL: no such read-back since the row was last sent.
ALTER TABLE outbox ADD COLUMN absent_since INTEGER;

-- Rows failed by earlier versions may have failed with their last outcome unknown (attempts
-- ran out after timeouts, or a read-back was refused). Give them an absence from their last
-- attempt, so a retry by hand reads them back before sending again; rows this version fails
-- (refusals, which prove nothing was applied) keep NULL and are sent again at once.
UPDATE outbox SET absent_since = next_attempt_at WHERE state = 'failed';
