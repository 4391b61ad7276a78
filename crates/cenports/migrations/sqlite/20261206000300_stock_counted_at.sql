-- When the warehouse last counted each SKU (docs/STOCK.md, "Shipments and counts"), in epoch
-- milliseconds. Every `stock set`, `stock import` and API stock set writes it, even when the
-- count equals what the hub holds. A shipment delivered through the outbox lowers on hand
-- only when its parcel left at or after this instant: a count taken after the parcel left
-- already does not hold its units. SQLite twin of the PostgreSQL file.
ALTER TABLE stock_levels ADD COLUMN counted_at INTEGER NOT NULL DEFAULT 0;

-- Rows counted before this release: on hand was only ever set by a count, so its last change
-- is the best known count time (to the second; a count equal to the stored figure did not move
-- it, so this errs early, on the side of subtracting a shipment rather than not).
UPDATE stock_levels SET counted_at = CAST(strftime('%s', updated_at) AS INTEGER) * 1000;
