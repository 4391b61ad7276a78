-- The dispatcher's claim reads one index (docs/EVENTS.md, "Order, retries, giving up";
-- docs/PERFORMANCE.md, "Events"). SQLite twin of the PostgreSQL file.
--
-- A delivery may go only when no earlier delivery of its subject (one order, or the stock) to
-- its subscription is pending. The claim used to check that for every due row on every look,
-- which grew with the queue. `next_in_line` now says it: 1 on the pending delivery with the
-- smallest event id of its subject and subscription, 0 on every other row. It is kept when
-- deliveries are recorded, delivered, given up or resent (`storage/events.rs`), so the claim
-- reads the due deliveries that are next in line, in due-time order, from one index.
ALTER TABLE event_deliveries ADD COLUMN next_in_line INTEGER NOT NULL DEFAULT 0
    CHECK (next_in_line IN (0, 1));

-- What is pending now: the first of each subject and subscription is next in line.
UPDATE event_deliveries SET next_in_line = 1
WHERE state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM event_deliveries p
    WHERE p.subscription_id = event_deliveries.subscription_id
    AND p.subject = event_deliveries.subject
    AND p.state = 'pending' AND p.event_id < event_deliveries.event_id);

-- The claim's index: due time, then event order, of the deliveries that may go. It replaces
-- the index of every pending delivery's due time, which nothing else reads.
CREATE INDEX event_deliveries_next ON event_deliveries (next_attempt_at, event_id)
    WHERE state = 'pending' AND next_in_line = 1;
DROP INDEX event_deliveries_due;
