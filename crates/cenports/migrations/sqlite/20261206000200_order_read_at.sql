-- Same-second versions of an order (docs/SYNC.md, "Versions within one second").
-- unsettled_read_at: when the stored version was read (the database's clock), if it was read
-- before its date_modified second was known to be over (a targeted fetch, a reconciliation
-- re-walk, the order after a delivery): another version with the same date_modified may still
-- come, and replaces it. NULL: settled, the store's final version of that second (a walk reads
-- only orders at least the settle delay old).
-- Rows saved before this column existed may be such versions (a targeted fetch, a delivery
-- that moved date_modified without the JSON): they start unsettled, read at the epoch, so the
-- next read of the same second replaces them once. Inserts always give the column.
ALTER TABLE orders ADD COLUMN unsettled_read_at TEXT DEFAULT '1970-01-01T00:00:00+00:00';
