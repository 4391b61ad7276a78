-- The order as received is kept compressed (docs/STORAGE.md, "Raw orders"): LZ4 shrinks a
-- BigCommerce order's JSON about fivefold, and writing it was a third of the hub's CPU per
-- imported order. `raw` holds the bytes, `raw_encoding` says how to read them: 'lz4' (LZ4 block
-- with its length in front, what the hub writes) or 'json' (plain UTF-8 text: rows written
-- before this migration, kept as they were).
ALTER TABLE orders ADD COLUMN raw BYTEA;
ALTER TABLE orders ADD COLUMN raw_encoding TEXT NOT NULL DEFAULT 'json'
    CHECK (raw_encoding IN ('json', 'lz4'));
UPDATE orders SET raw = convert_to(raw_json, 'UTF8');
ALTER TABLE orders ALTER COLUMN raw SET NOT NULL;
ALTER TABLE orders DROP COLUMN raw_json;
-- Already compressed: PostgreSQL's own TOAST compression would only spend CPU failing.
ALTER TABLE orders ALTER COLUMN raw SET STORAGE EXTERNAL;
-- A row of ≈ 3 kB (the compressed order and its columns) stays in the table's own page instead
-- of being moved to the TOAST table, which would cost a second insert and index entry per order.
ALTER TABLE orders SET (toast_tuple_target = 8160);
