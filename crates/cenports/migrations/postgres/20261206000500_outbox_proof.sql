-- The proof that an earlier attempt was not applied (docs/FULFILMENT.md, "Unknown outcomes"):
-- when a read-back after the quiet period first found nothing, in epoch milliseconds by the
-- database's clock. A second read-back at least the recheck gap later that also finds nothing
-- lets the row be sent again. NULL: no such read-back since the row was last sent.
ALTER TABLE outbox ADD COLUMN absent_since BIGINT;
